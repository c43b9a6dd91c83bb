// Observability at the wire, against real components: the bastion binary with its admin
// listener, a real Prometheus server (the Debian package) scraping it on loopback, and an OTLP/HTTP
// receiver (node:http) standing in for a collector. Each test starts its own bastion (and
// Prometheus) on free loopback ports and stops them by PID.
//
// What is checked (issue 6, "done when"):
//   - Prometheus scrapes /metrics, the target is healthy, and its HTTP API returns the request
//     counter and the histogram after traffic;
//   - one request is one trace with correctly nested spans, for a context arriving in the
//     traceparent header and another arriving in params._meta;
//   - with the receiver down, requests still complete and the drop counter rises (asserted on
//     counters only, never on wall-clock time);
//   - known secrets fed through an Authorization header, a cookie, a tool argument and a query
//     code= reach no log line, audit record, metric or span;
//   - Bastion's own call to an issuer (introspection) is a CLIENT span of the request whose
//     token needed it, and carries traceparent to the issuer.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request, mcpHeaders, rpc } from './lib/http.mjs';
import { BASTION_BIN, ARTIFACTS_DIR } from './lib/env.mjs';
import { metricSum } from './lib/metrics.mjs';
import { FakeIssuer } from './lib/issuer.mjs';

const HOST = '127.0.0.1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
const scratch = fs.mkdtempSync(path.join(ARTIFACTS_DIR, 'observability-'));
const started = [];  // child processes to stop by PID at the end, whatever happens

after(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

// Polls `check` (async, returns a truthy value when done) every `everyMs`, at most `tries`
// times; returns the value or throws with `what`.
async function eventually(what, check, { tries = 100, everyMs = 200 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not reached after ${tries} tries${last ? ` (last error: ${last.message})` : ''}`);
}

// A loopback port nobody listens on right now.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startBastion(name, extraYaml) {
  const dir = fs.mkdtempSync(path.join(scratch, `${name}-`));
  const config = path.join(dir, 'bastion.yaml');
  fs.writeFileSync(config, `server:
  name: bastion-observability
logging:
  level: info
  format: json
listeners:
  - address: 127.0.0.1
    port: 0
admin:
  enabled: true
  address: 127.0.0.1
  port: 0
routes:
  - path: /mcp
    modules: [demo]
${extraYaml}`);
  const portFile = path.join(dir, 'port');
  const adminPortFile = path.join(dir, 'admin-port');
  const logFile = path.join(dir, 'bastion.log');
  const stdoutFile = path.join(dir, 'bastion.stdout');
  const err = fs.openSync(logFile, 'w');
  const out = fs.openSync(stdoutFile, 'w');
  const child = spawn(BASTION_BIN, ['serve', '--config', config, '--port-file', portFile, '--admin-port-file', adminPortFile],
    { cwd: dir, stdio: ['ignore', out, err] });
  fs.closeSync(err);
  fs.closeSync(out);
  started.push(child);
  const read = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : '');
  await eventually(`bastion ${name} writes its port files`, () => {
    if (child.exitCode !== null) throw new Error(`bastion exited: ${read(logFile)}`);
    return /^\d+$/.test(read(portFile)) && /^\d+$/.test(read(adminPortFile));
  }, { tries: 150 });
  const port = Number(read(portFile));
  const adminPort = Number(read(adminPortFile));
  return {
    port, adminPort, dir, logFile, stdoutFile,
    log: () => read(logFile),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      await eventually(`bastion ${name} exits after SIGTERM`, () => child.exitCode !== null, { tries: 150 });
      return child.exitCode;
    },
  };
}

async function metricsText(b) {
  const r = await request({ method: 'GET', path: '/metrics', port: b.adminPort });
  assert.equal(r.status, 200);
  return r.text;
}

async function openSession(b, headers = {}) {
  const r = await request({
    path: '/mcp', port: b.port, headers: mcpHeaders({ extra: headers }),
    body: rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'obs-e2e', version: '1' } }),
  });
  assert.equal(r.status, 200, r.text);
  const session = r.headers['mcp-session-id'];
  assert.ok(session);
  await request({ path: '/mcp', port: b.port, headers: mcpHeaders({ session, version: '2025-11-25', extra: headers }),
    body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
  return session;
}

async function echo(b, session, message, { headers = {}, meta, pathSuffix = '' } = {}) {
  const params = { name: 'echo', arguments: { message } };
  if (meta) params._meta = meta;
  const r = await request({ path: `/mcp${pathSuffix}`, port: b.port,
    headers: mcpHeaders({ session, version: '2025-11-25', extra: headers }), body: rpc('tools/call', params) });
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).result.content[0].text, message);
  return r;
}

// ---- OTLP/HTTP receiver ----------------------------------------------------------------------

async function startReceiver() {
  const bodies = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'POST' && req.url === '/v1/traces' && /json/.test(req.headers['content-type'] || '')) {
        bodies.push(text);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise((r) => server.listen(0, HOST, r));
  return {
    url: `http://${HOST}:${server.address().port}/v1/traces`,
    bodies,
    spans() {
      const out = [];
      for (const b of bodies)
        for (const rs of JSON.parse(b).resourceSpans || [])
          for (const ss of rs.scopeSpans || []) for (const s of ss.spans || []) out.push({ ...s, resource: rs.resource });
      return out;
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

const attr = (span, key) => {
  const a = (span.attributes || []).find((x) => x.key === key);
  return a ? (a.value.stringValue ?? a.value.intValue ?? a.value.boolValue ?? a.value.doubleValue) : undefined;
};

// One trace, nested: exactly one span whose parent is the caller's span, every other span's
// parent inside the trace, children within their parent's time.
function assertOneNestedTrace(spans, traceId, remoteParent) {
  const mine = spans.filter((s) => s.traceId === traceId);
  assert.ok(mine.length >= 3, `expected request, guard and tools/call spans in ${traceId}, got ${mine.map((s) => s.name)}`);
  const byId = new Map(mine.map((s) => [s.spanId, s]));
  const roots = mine.filter((s) => s.parentSpanId === remoteParent);
  assert.equal(roots.length, 1, `one span under the caller's span, got ${roots.map((s) => s.name)}`);
  assert.equal(roots[0].name, 'POST /mcp');
  assert.equal(roots[0].kind, 2);
  for (const s of mine) {
    if (s === roots[0]) continue;
    const parent = byId.get(s.parentSpanId);
    assert.ok(parent, `${s.name} has a parent outside the trace`);
    assert.ok(BigInt(s.startTimeUnixNano) >= BigInt(parent.startTimeUnixNano), `${s.name} starts before its parent`);
    assert.ok(BigInt(s.endTimeUnixNano) <= BigInt(parent.endTimeUnixNano), `${s.name} ends after its parent`);
  }
  const op = mine.find((s) => s.name === 'tools/call echo');
  assert.ok(op, `no tools/call span in ${mine.map((s) => s.name)}`);
  assert.equal(op.parentSpanId, roots[0].spanId);
  assert.equal(attr(op, 'mcp.method.name'), 'tools/call');
  assert.equal(attr(op, 'gen_ai.tool.name'), 'echo');
  assert.equal(attr(op, 'mcp.protocol.version'), '2025-11-25');
  assert.equal(attr(roots[0], 'http.response.status_code'), '200');
  assert.ok(mine.find((s) => s.name === 'guard' && s.parentSpanId === roots[0].spanId), 'no guard step span');
  return mine;
}

const randomHex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');

// ---- tests -----------------------------------------------------------------------------------

describe('Prometheus scrapes the admin listener', () => {
  test('a real Prometheus server sees the request counter and the duration histogram', async (t) => {
    const which = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
    assert.equal(which.status, 0, 'prometheus is not installed (scripts/setup.sh installs it)');
    const b = await startBastion('prometheus', '');
    t.after(() => b.stop());
    const health = await request({ method: 'GET', path: '/healthz', port: b.adminPort });
    assert.equal(health.status, 200);
    const ready = await request({ method: 'GET', path: '/readyz', port: b.adminPort });
    assert.equal(ready.status, 200, ready.text);
    // The MCP listener keeps its own /healthz; /metrics is not served there.
    assert.equal((await request({ method: 'GET', path: '/healthz', port: b.port })).status, 200);
    assert.equal((await request({ method: 'GET', path: '/metrics', port: b.port })).status, 404);

    const promPort = await freePort();
    const promDir = fs.mkdtempSync(path.join(scratch, 'prometheus-'));
    fs.writeFileSync(path.join(promDir, 'prometheus.yml'), `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: bastion
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:${b.adminPort}']
`);
    const promLog = fs.openSync(path.join(promDir, 'prometheus.log'), 'w');
    const prom = spawn('prometheus', [
      `--config.file=${path.join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ], { cwd: promDir, stdio: ['ignore', promLog, promLog] });
    fs.closeSync(promLog);
    started.push(prom);
    t.after(async () => {
      prom.kill('SIGTERM');
      await eventually('prometheus exits', () => prom.exitCode !== null || prom.signalCode !== null, { tries: 100 }).catch(() => prom.kill('SIGKILL'));
    });
    const promGet = async (p) => {
      const r = await request({ method: 'GET', path: p, port: promPort });
      if (r.status !== 200) throw new Error(`prometheus ${p}: ${r.status} ${r.text.slice(0, 200)}`);
      return JSON.parse(r.text);
    };
    await eventually('prometheus is ready', async () => (await request({ method: 'GET', path: '/-/ready', port: promPort })).status === 200, { tries: 150 });

    const session = await openSession(b);
    const calls = 7;
    for (let i = 0; i < calls; i++) await echo(b, session, `hello ${i}`);

    const target = await eventually('the scrape target is healthy', async () => {
      const targets = (await promGet('/api/v1/targets')).data.activeTargets;
      const mine = targets.find((x) => x.scrapeUrl === `http://127.0.0.1:${b.adminPort}/metrics`);
      return mine && mine.health === 'up' && mine.lastError === '' ? mine : null;
    }, { tries: 150 });
    assert.equal(target.labels.job, 'bastion');

    const query = async (q) => (await promGet(`/api/v1/query?query=${encodeURIComponent(q)}`)).data.result;
    // initialize + notifications/initialized + 7 calls: 9 POSTs answered 200 or 202.
    const counted = await eventually('the request counter reaches Prometheus', async () => {
      const r = await query('sum(bastion_http_requests_total{route="/mcp",method="POST"})');
      return r.length === 1 && Number(r[0].value[1]) >= calls + 2 ? Number(r[0].value[1]) : null;
    }, { tries: 150 });
    assert.equal(counted, calls + 2);
    const histogram = await query('bastion_http_request_duration_seconds_count{route="/mcp",method="POST",status="200"}');
    assert.equal(histogram.length, 1);
    assert.equal(Number(histogram[0].value[1]), calls + 1);
    const buckets = await query('bastion_http_request_duration_seconds_bucket{route="/mcp",status="200",le="+Inf"}');
    assert.equal(Number(buckets[0].value[1]), calls + 1);
    const mcp = await query('mcp_server_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="echo"}');
    assert.equal(mcp.length, 1);
    assert.equal(Number(mcp[0].value[1]), calls);
    // A quantile over the histogram is computable (the buckets are well-formed).
    const p50 = await query('histogram_quantile(0.5, sum by (le) (bastion_http_request_duration_seconds_bucket{route="/mcp"}))');
    assert.equal(p50.length, 1);
    assert.ok(Number.isFinite(Number(p50[0].value[1])), `p50 ${p50[0].value[1]}`);
    const sessions = await query('bastion_mcp_sessions_active{route="/mcp"}');
    assert.equal(Number(sessions[0].value[1]), 1);
    const rss = await query('process_resident_memory_bytes');
    assert.ok(Number(rss[0].value[1]) > 0);
  });
});

describe('traces over OTLP/HTTP', () => {
  test('one request is one nested trace, by traceparent header and by _meta', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const b = await startBastion('otlp', `tracing:
  enabled: true
  otlp_endpoint: ${receiver.url}
  sample_ratio: 1.0
  schedule_delay_ms: 100
  export_timeout_ms: 2000
`);
    t.after(() => b.stop());
    const session = await openSession(b);

    const headerTrace = randomHex(16);
    const headerParent = randomHex(8);
    await echo(b, session, 'by header', { headers: { traceparent: `00-${headerTrace}-${headerParent}-01` } });
    const metaTrace = randomHex(16);
    const metaParent = randomHex(8);
    await echo(b, session, 'by meta', { meta: { traceparent: `00-${metaTrace}-${metaParent}-01`, tracestate: 'vendor=x' } });

    await eventually('both traces arrive', () => {
      const spans = receiver.spans();
      const has = (id) => spans.some((s) => s.traceId === id && s.name === 'POST /mcp');
      return has(headerTrace) && has(metaTrace);
    });
    const spans = receiver.spans();
    assertOneNestedTrace(spans, headerTrace, headerParent);
    const meta = assertOneNestedTrace(spans, metaTrace, metaParent);
    assert.ok(meta.every((s) => s.traceState === 'vendor=x'), 'tracestate is carried along');
    assert.equal(spans[0].resource.attributes.find((a) => a.key === 'service.name').value.stringValue, 'bastion');
    const text = await metricsText(b);
    assert.ok(metricSum(text, 'bastion_otlp_spans_exported_total') >= 6);
  });

  test('with the receiver down requests complete and the drop counter rises', async (t) => {
    const deadPort = await freePort();  // nothing listens there
    const b = await startBastion('otlp-down', `tracing:
  enabled: true
  otlp_endpoint: http://127.0.0.1:${deadPort}/v1/traces
  sample_ratio: 1.0
  schedule_delay_ms: 100
  export_timeout_ms: 1000
  max_batch_size: 8
  max_queue_size: 64
`);
    t.after(() => b.stop());
    const before = metricSum(await metricsText(b), 'bastion_otlp_spans_dropped_total');
    const session = await openSession(b);
    const calls = 40;
    for (let i = 0; i < calls; i++) await echo(b, session, `still served ${i}`);
    const dropped = await eventually('the drop counter rises', async () => {
      const v = metricSum(await metricsText(b), 'bastion_otlp_spans_dropped_total');
      return v > before ? v : null;
    });
    assert.ok(dropped > before);
    const text = await metricsText(b);
    assert.equal(metricSum(text, 'bastion_otlp_spans_exported_total'), 0);
    assert.ok(metricSum(text, 'bastion_otlp_export_failures_total') >= 1);
    assert.equal(metricSum(text, 'mcp_server_operation_duration_seconds_count', { mcp_method_name: 'tools/call' }), calls);
  });
});

describe('outbound calls', () => {
  test("a token's introspection is a CLIENT span in the request's trace and carries traceparent to the issuer", async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const issuer = new FakeIssuer();
    issuer.introspectionClient = { id: 'bastion-obs', secret: `intro-${randomHex(8)}` };
    const seen = [];  // what the issuer received: path and traceparent
    const handle = issuer.handle.bind(issuer);
    issuer.handle = (req, res) => {
      seen.push({ url: req.url, traceparent: req.headers.traceparent });
      handle(req, res);
    };
    await issuer.start();
    t.after(() => issuer.stop());
    // The client secret comes from the environment, as the configuration requires of secrets.
    process.env.BASTION_E2E_OBS_INTROSPECTION_SECRET = issuer.introspectionClient.secret;
    const b = await startBastion('outbound', `    auth:
      issuers: [opaque]
      scopes: [mcp]
auth:
  issuers:
    - name: opaque
      issuer: ${issuer.issuer}
      allow_http_loopback: true
      discovery: false
      introspection:
        endpoint: ${issuer.issuer}/introspect
        client_id: ${issuer.introspectionClient.id}
        client_secret: \${env:BASTION_E2E_OBS_INTROSPECTION_SECRET}
tracing:
  enabled: true
  otlp_endpoint: ${receiver.url}
  sample_ratio: 1.0
  schedule_delay_ms: 100
`);
    t.after(() => b.stop());
    const token = `opaque-${randomHex(8)}`;
    const now = Math.floor(Date.now() / 1000);
    issuer.opaque.set(token, { active: true, iss: issuer.issuer, sub: 'dana', aud: `http://${HOST}:${b.port}/mcp`,
      scope: 'mcp', client_id: 'obs-client', exp: now + 300 });

    const traceId = randomHex(16);
    const parent = randomHex(8);
    await openSession(b, { Authorization: `Bearer ${token}`, traceparent: `00-${traceId}-${parent}-01` });
    const spans = await eventually('the request and its introspection arrive', () => {
      const mine = receiver.spans().filter((s) => s.traceId === traceId);
      return mine.some((s) => s.name === 'POST /mcp') && mine.some((s) => s.kind === 3) ? mine : null;
    });
    const server = spans.find((s) => s.name === 'POST /mcp');
    assert.equal(server.parentSpanId, parent);
    const client = spans.find((s) => s.kind === 3);
    assert.equal(client.name, 'POST');
    assert.equal(client.parentSpanId, server.spanId, 'the call nests under the request that needed it');
    assert.equal(attr(client, 'url.full'), `${issuer.issuer}/introspect`);
    assert.equal(attr(client, 'server.address'), HOST);
    assert.equal(attr(client, 'http.response.status_code'), '200');
    assert.ok(spans.find((s) => s.name === 'authenticate' && s.parentSpanId === server.spanId), 'no authenticate step span');
    // The issuer got the client span's context (W3C Trace Context), and no span holds the token.
    const call = seen.find((r) => r.url === '/introspect');
    assert.equal(call?.traceparent, `00-${traceId}-${client.spanId}-01`);
    assert.ok(!receiver.bodies.join('\n').includes(token), 'the token reached a span');
  });
});

describe('secrets stay out of every output', () => {
  test('without a configured key, argument digests are under a random key that the start-up names', async (t) => {
    const b = await startBastion('random-digest-key', `audit:
  enabled: true
  sink: file
  path: audit.jsonl
`);
    t.after(() => b.stop());
    const session = await openSession(b, {});
    await echo(b, session, 'guessable');
    assert.equal(await b.stop(), 0);
    const announced = b.log().match(/digested under a random key of this process \(id ([0-9a-f]{16})\)/);
    assert.ok(announced, b.log());
    const audit = fs.readFileSync(path.join(b.dir, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const loaded = audit.find((r) => r.event === 'configuration_loaded');
    assert.equal(loaded?.argument_digest_key, 'random');
    assert.equal(loaded?.argument_digest_key_id, announced[1]);
    const call = audit.find((r) => r.event === 'tool_call');
    assert.match(call?.argument_digest ?? '', /^hmac-sha256:[0-9a-f]{64}$/);
    const unkeyed = createHash('sha256').update(JSON.stringify({ message: 'guessable' })).digest('hex');
    assert.ok(!b.log().includes(unkeyed) && !call.argument_digest.includes(unkeyed));
  });

  test('an Authorization header, a cookie, a tool argument and a query code= reach no log, audit record, metric or span', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const auditFile = 'audit.jsonl';
    // Argument digests under a key from a secret file, as every instance of a deployment shares.
    const digestKeyFile = path.join(fs.mkdtempSync(path.join(scratch, 'digest-key-')), 'key');
    fs.writeFileSync(digestKeyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    const b = await startBastion('secrets', `security:
  argument_digest_key: \${file:${digestKeyFile}}
audit:
  enabled: true
  sink: file
  path: ${auditFile}
tracing:
  enabled: true
  otlp_endpoint: ${receiver.url}
  schedule_delay_ms: 100
`);
    const secrets = {
      bearer: `SECRET-bearer-${randomHex(6)}`,
      cookie: `SECRET-cookie-${randomHex(6)}`,
      argument: `SECRET-arg-${randomHex(6)}`,
      code: `SECRET-code-${randomHex(6)}`,
    };
    // A guess at the arguments can be tested against their unkeyed SHA-256, never against the
    // keyed digest: that one must not appear either.
    const argumentsText = JSON.stringify({ message: secrets.argument });
    secrets.unkeyedDigest = createHash('sha256').update(argumentsText).digest('hex');
    const headers = { Authorization: `Bearer ${secrets.bearer}`, Cookie: `session=${secrets.cookie}` };
    const session = await openSession(b, headers);
    const traceId = randomHex(16);
    await echo(b, session, secrets.argument, {
      headers: { ...headers, traceparent: `00-${traceId}-${randomHex(8)}-01` },
      pathSuffix: `?code=${secrets.code}&state=xyz`,
    });
    await eventually('the trace arrives', () => receiver.spans().some((s) => s.traceId === traceId && s.name === 'POST /mcp'));
    const metrics = await metricsText(b);
    assert.equal(await b.stop(), 0);
    const outputs = {
      log: b.log(),
      stdout: fs.readFileSync(b.stdoutFile, 'utf8'),
      audit: fs.readFileSync(path.join(b.dir, auditFile), 'utf8'),
      metrics,
      spans: receiver.bodies.join('\n'),
    };
    // The scan looks at real output: the request line, the tool_call record, the spans.
    assert.match(outputs.log, /"mcp_method":"tools\/call"/);
    assert.match(outputs.audit, /"event":"tool_call"/);
    // `bastion digest-arguments` with the same config reproduces the digest: an investigator can
    // tell whether a logged call had given arguments.
    const digest = spawnSync(BASTION_BIN, ['digest-arguments', '--config', path.join(b.dir, 'bastion.yaml')],
      { input: argumentsText, encoding: 'utf8' });
    assert.equal(digest.status, 0, digest.stderr);
    assert.match(digest.stdout, /^hmac-sha256:[0-9a-f]{64}\n$/);
    assert.ok(outputs.audit.includes(`"argument_digest":"${digest.stdout.trim()}"`), outputs.audit);
    assert.ok(outputs.log.includes(`"argument_digest":"${digest.stdout.trim()}"`));
    // The configuration_loaded record names the key the server used, as the command does.
    const keyId = digest.stderr.match(/key with id ([0-9a-f]{16})/)?.[1];
    assert.ok(keyId, digest.stderr);
    const loaded = outputs.audit.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((r) => r.event === 'configuration_loaded');
    assert.equal(loaded?.argument_digest_key, 'configured', outputs.audit);
    assert.equal(loaded?.argument_digest_key_id, keyId);
    assert.match(outputs.spans, /"tools\/call echo"/);
    assert.match(outputs.metrics, /bastion_http_requests_total/);
    for (const [where, text] of Object.entries(outputs)) {
      for (const [kind, secret] of Object.entries(secrets)) {
        assert.ok(!text.includes(secret), `the ${kind} secret leaked into ${where}`);
      }
      assert.ok(!/code=/.test(text), `a query string leaked into ${where}`);
    }
  });
});
