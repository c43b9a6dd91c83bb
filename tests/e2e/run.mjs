// End-to-end runner: starts the real bastion binary on a free loopback port with a test
// config, runs every suite against it (our node:test files, the MCP Inspector CLI, the official
// conformance suite in two versions), stops it by PID, and prints a summary whose last line is
// `N passed, M failed`.
//
//   tests/e2e/run.sh [--only a,b] [--skip a,b] [--list]
//
// Suites: cli, http, sdk, modern-client, authserver, oauth-flow, inspector, auth-rs, observability, conformance-authorization,
// conformance-stable, conformance-next, conformance-modern, conformance-stable-auth, conformance-next-auth,
// conformance-modern-auth.
// Environment: BASTION_BIN (default build/apps/bastion/bastion), E2E_VERBOSE=1 (stream output).
// Everything a run writes goes to tests/e2e/artifacts/<time>/ (ignored by git).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';
import { FakeIssuer } from './lib/issuer.mjs';
import { startHeaderProxy } from './lib/auth-proxy.mjs';

const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(E2E_DIR, '..', '..');
const NODE22 = process.execPath;
const VERBOSE = process.env.E2E_VERBOSE === '1';

const DEMO_PATH = '/mcp';
const CONFORMANCE_PATH = '/conformance/mcp';

// ---- suites ----------------------------------------------------------------------------------

const SUITES = [
  { name: 'cli', kind: 'node-test', file: 'cli.test.mjs', timeoutMs: 5 * 60_000, what: 'bastion command line: --version, --help, check-config, stdio, SIGTERM' },
  { name: 'http', kind: 'node-test', file: 'http-transport.test.mjs', timeoutMs: 5 * 60_000, what: 'Streamable HTTP and HTTP+SSE at the wire' },
  { name: 'sdk', kind: 'node-test', file: 'sdk-client.test.mjs', timeoutMs: 5 * 60_000, what: 'TypeScript SDK client over Streamable HTTP, HTTP+SSE and stdio' },
  { name: 'modern-client', kind: 'node-test', file: 'modern-client.test.mjs', timeoutMs: 5 * 60_000, what: 'TypeScript SDK v2 client on 2026-07-28 (MRTR, subscriptions/listen) beside a 2025 session' },
  { name: 'authserver', kind: 'node-test', file: 'authserver.test.mjs', timeoutMs: 5 * 60_000, what: 'embedded OAuth 2.1 authorization server: headless-Chromium sign-in, every refusal, first start and restart' },
  { name: 'oauth-flow', kind: 'node-test', file: 'oauth-flow.test.mjs', timeoutMs: 5 * 60_000, what: 'TypeScript SDK client logs in through the embedded authorization server (DCR, CIMD, refresh, step-up) in headless Chromium' },
  { name: 'inspector', kind: 'node-test', file: 'inspector-cli.test.mjs', timeoutMs: 5 * 60_000, what: 'MCP Inspector CLI' },
  { name: 'auth-rs', kind: 'node-test', file: 'auth-rs.test.mjs', timeoutMs: 5 * 60_000, what: 'OAuth resource server: PRM, attack battery, rotation, outage, scopes, sessions, SDK and Inspector with tokens' },
  { name: 'observability', kind: 'node-test', file: 'observability.test.mjs', timeoutMs: 5 * 60_000, what: 'Prometheus scraping /metrics, OTLP traces (header and _meta), drops, no secret in any output' },
  {
    // Needs root for `unshare -n`: the suite's callback listener lives in a network namespace
    // with only loopback up, together with its own bastion and the browser.
    name: 'conformance-authorization', kind: 'netns-script', file: 'conformance-authorization.mjs', timeoutMs: 5 * 60_000,
    what: 'official conformance suite 0.2.0-alpha.12, authorization-server scenarios (headless-Chromium sign-in, in unshare -n)',
  },
  {
    name: 'conformance-stable', kind: 'conformance', pkg: 'conformance-stable', version: '0.1.16', args: [],
    timeoutMs: 20 * 60_000, what: 'official conformance suite 0.1.16, active server scenarios',
  },
  {
    name: 'conformance-next', kind: 'conformance', pkg: 'conformance-next', version: '0.2.0-alpha.12',
    args: ['--requirements', '2025-11-25', '--timeout', '30000'],
    timeoutMs: 20 * 60_000, what: 'official conformance suite 0.2.0-alpha.12, requirements 2025-11-25',
  },
  // The same three runs with OAuth on: a bastion of its own whose conformance route requires a
  // bearer token from a stand-in issuer, reached through a proxy that adds a valid one.
  {
    name: 'conformance-stable-auth', kind: 'conformance', auth: true, pkg: 'conformance-stable', version: '0.1.16', args: [],
    timeoutMs: 20 * 60_000, what: 'conformance 0.1.16 against a protected route, through a token-adding proxy',
  },
  {
    name: 'conformance-next-auth', kind: 'conformance', auth: true, pkg: 'conformance-next', version: '0.2.0-alpha.12',
    args: ['--requirements', '2025-11-25', '--timeout', '30000'],
    timeoutMs: 20 * 60_000, what: 'conformance 0.2.0-alpha.12 (2025-11-25) against a protected route, through a token-adding proxy',
  },
  {
    name: 'conformance-modern-auth', kind: 'conformance', auth: true, pkg: 'conformance-next', version: '0.2.0-alpha.12',
    args: ['--requirements', '2026-07-28', '--timeout', '30000'],
    mustPass: ['http-header-validation', 'http-custom-header-server-validation', 'json-schema-2020-12'],
    timeoutMs: 20 * 60_000, what: 'conformance 0.2.0-alpha.12 (2026-07-28) against a protected route, through a token-adding proxy',
  },
  {
    name: 'conformance-modern', kind: 'conformance', pkg: 'conformance-next', version: '0.2.0-alpha.12',
    args: ['--requirements', '2026-07-28', '--timeout', '30000'],
    // Pending scenarios are run but not scored by the suite; these three must pass all the same
    // (issue 3). The tasks extension is not implemented and stays unscored.
    mustPass: ['http-header-validation', 'http-custom-header-server-validation', 'json-schema-2020-12'],
    timeoutMs: 20 * 60_000, what: 'official conformance suite 0.2.0-alpha.12, requirements 2026-07-28',
  },
];

function parseArgs(argv) {
  const out = { only: null, skip: new Set(), list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') out.only = new Set(argv[++i].split(','));
    else if (a === '--skip') argv[++i].split(',').forEach((s) => out.skip.add(s));
    else if (a === '--list') out.list = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: tests/e2e/run.sh [--only a,b] [--skip a,b] [--list]');
      process.exit(0);
    } else {
      console.error(`e2e: unknown argument ${a}`);
      process.exit(2);
    }
  }
  return out;
}

// ---- small helpers -----------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const indent = (text, prefix = '    | ') => text.split('\n').map((l) => prefix + l).join('\n');
const tail = (text, lines) => text.split('\n').slice(-lines).join('\n');
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// Runs a command with its output in `logFile`; resolves {code, signal, timedOut, ms}.
// The child leads its own process group, so a timeout ends it and its children by that id.
function runLogged(command, args, { cwd, env, logFile, timeoutMs, label }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const log = fs.openSync(logFile, 'w');
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', VERBOSE ? 'pipe' : log, VERBOSE ? 'pipe' : log], detached: true });
    if (VERBOSE) {
      for (const stream of [child.stdout, child.stderr]) {
        stream.on('data', (d) => {
          fs.writeSync(log, d);
          process.stdout.write(indent(d.toString().replace(/\n$/, ''), `    [${label}] `) + '\n');
        });
      }
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.closeSync(log);
      resolve({ code, signal, timedOut, ms: Date.now() - started });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      fs.writeSync(log, `spawn failed: ${e.message}\n`);
    });
  });
}

// ---- the server under test ---------------------------------------------------------------------

function writeConfig(file) {
  const searchRoot = path.join(E2E_DIR, 'fixtures', 'search');
  const yaml = `# Written by tests/e2e/run.mjs for one end-to-end run.
server:
  name: bastion-e2e
logging:
  level: info
listeners:
  - address: 127.0.0.1
    port: 0
routes:
  - path: ${DEMO_PATH}
    modules: [demo]
    module_settings:
      demo:
        root: ${JSON.stringify(searchRoot)}
  - path: ${CONFORMANCE_PATH}
    modules: [conformance]
`;
  fs.writeFileSync(file, yaml);
}

async function startServer(bin, config, dir) {
  const portFile = path.join(dir, 'port');
  const logFile = path.join(dir, 'server.log');
  const log = fs.openSync(logFile, 'w');
  const child = spawn(bin, ['serve', '--config', config, '--port-file', portFile], {
    cwd: dir,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`bastion exited during start-up (${JSON.stringify(exited)}):\n${indent(tail(readText(logFile), 40))}`);
    const text = readText(portFile).trim();
    if (/^\d+$/.test(text)) return { child, port: Number(text), logFile, exitState: () => exited };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`bastion wrote no port file within 30 s:\n${indent(tail(readText(logFile), 40))}`);
}

async function stopServer(server) {
  if (server.exitState()) return { ok: false, detail: `bastion had already exited: ${JSON.stringify(server.exitState())}` };
  server.child.kill('SIGTERM');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !server.exitState()) await sleep(100);
  const state = server.exitState();
  if (!state) {
    server.child.kill('SIGKILL');
    return { ok: false, detail: 'bastion did not exit within 20 s of SIGTERM (killed)' };
  }
  return state.code === 0
    ? { ok: true, detail: 'exit code 0' }
    : { ok: false, detail: `exit code ${state.code}, signal ${state.signal}` };
}

// ---- suite runners -----------------------------------------------------------------------------

function tapCounts(tap) {
  const num = (key) => Number((tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm')) || [])[1] ?? NaN);
  return { tests: num('tests'), pass: num('pass'), fail: num('fail'), cancelled: num('cancelled'), skipped: num('skipped'), todo: num('todo') };
}

async function runNodeTest(suite, ctx) {
  const tapFile = path.join(ctx.dir, `${suite.name}.tap`);
  const logFile = path.join(ctx.dir, `${suite.name}.log`);
  const r = await runLogged(NODE22, [
    '--test', '--test-concurrency=1', '--test-timeout=120000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    path.join(E2E_DIR, suite.file),
  ], { cwd: E2E_DIR, env: ctx.env, logFile, timeoutMs: suite.timeoutMs, label: suite.name });
  const tap = readText(tapFile);
  const c = tapCounts(tap);
  if (Number.isNaN(c.pass) || Number.isNaN(c.fail)) {
    return { passed: 0, failed: 1, ms: r.ms, detail: `no test summary (${r.timedOut ? 'timed out' : `exit ${r.code}`})`, log: tail(readText(logFile), 60) };
  }
  const failed = c.fail + (c.cancelled || 0) + (r.code !== 0 && c.fail === 0 ? 1 : 0);
  const notOk = failedLeaves(tap);
  return {
    passed: c.pass,
    failed,
    skipped: c.skipped || 0,
    ms: r.ms,
    detail: `${c.pass}/${c.tests} tests${c.skipped ? `, ${c.skipped} skipped` : ''}`,
    failures: notOk,
    log: failed ? failureExcerpt(readText(logFile)) : '',
  };
}

// Names of the failed tests, without the suites that failed because of them (in node's TAP a
// suite's result line follows its plan line "1..N", a test's follows its "# Subtest:" line).
function failedLeaves(tap) {
  const lines = tap.split('\n');
  const names = [];
  lines.forEach((line, i) => {
    const m = line.match(/^(\s*)not ok \d+ - (.*)$/);
    if (!m) return;
    const before = (lines[i - 1] || '').trim();
    if (/^1\.\.\d+$/.test(before)) return;
    names.push(m[2].replace(/ # .*$/, ''));
  });
  return [...new Set(names)];
}

// The spec reporter repeats every failure, with its assertion, after "failing tests:".
function failureExcerpt(log) {
  const i = log.lastIndexOf('failing tests:');
  return i >= 0 ? log.slice(i, i + 12000) : tail(log, 80);
}

function conformanceResults(outDir) {
  const results = [];
  let entries = [];
  try {
    entries = fs.readdirSync(outDir);
  } catch {
    return results;
  }
  for (const entry of entries.sort()) {
    const file = path.join(outDir, entry, 'checks.json');
    if (!fs.existsSync(file)) continue;
    const scenario = entry.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z?$/, '');
    let checks = [];
    try {
      checks = JSON.parse(readText(file));
    } catch {
      checks = [{ id: 'checks.json', status: 'FAILURE', description: 'unreadable checks.json' }];
    }
    results.push({ scenario, checks });
  }
  return results;
}

// A protected bastion for one conformance run: stand-in issuer, bastion with the conformance
// route behind `auth`, and a proxy that adds a valid token. Returns the URL to test and a stop.
async function startProtectedConformance(suite, ctx) {
  const dir = path.join(ctx.dir, `${suite.name}-server`);
  fs.mkdirSync(dir, { recursive: true });
  const issuer = new FakeIssuer();
  issuer.addKey('k1', 'OKP', 'EdDSA');
  await issuer.start();
  const config = path.join(dir, 'auth.yaml');
  fs.writeFileSync(config, `# Written by tests/e2e/run.mjs: the conformance route with OAuth on.
logging: {level: info}
listeners: [{address: 127.0.0.1, port: 0}]
auth:
  issuers:
    - {name: e2e, issuer: "${issuer.issuer}", allow_http_loopback: true, algorithms: [EdDSA]}
routes:
  - path: ${CONFORMANCE_PATH}
    modules: [conformance]
    auth: {scopes: [mcp]}
`);
  let server;
  try {
    server = await startServer(ctx.bin, config, dir);
  } catch (e) {
    await issuer.stop();
    throw e;
  }
  const now = Math.floor(Date.now() / 1000);
  const token = issuer.sign('k1', {
    iss: issuer.issuer, sub: 'conformance', aud: `http://127.0.0.1:${server.port}${CONFORMANCE_PATH}`,
    exp: now + 4 * 3600, iat: now, scope: 'mcp', client_id: 'conformance', jti: crypto.randomUUID(),
  });
  // The route really is protected: without the proxy's token bastion answers 401.
  const direct = await fetch(`http://127.0.0.1:${server.port}${CONFORMANCE_PATH}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  if (direct.status !== 401 || !/resource_metadata=/.test(direct.headers.get('www-authenticate') || '')) {
    await stopServer(server);
    await issuer.stop();
    throw new Error(`the conformance route is not protected: ${direct.status}`);
  }
  const proxy = await startHeaderProxy({ targetPort: server.port, headers: { authorization: `Bearer ${token}` } });
  return {
    url: `http://127.0.0.1:${proxy.port}${CONFORMANCE_PATH}`,
    async stop() {
      await proxy.stop();
      const s = await stopServer(server);
      await issuer.stop();
      return s;
    },
  };
}

async function runConformance(suite, ctx) {
  if (!suite.auth) return runConformanceAt(suite, ctx, `http://127.0.0.1:${ctx.port}${CONFORMANCE_PATH}`);
  let protectedServer;
  try {
    protectedServer = await startProtectedConformance(suite, ctx);
  } catch (e) {
    return { passed: 0, failed: 1, ms: 0, detail: 'the protected bastion did not start', log: e.message };
  }
  const r = await runConformanceAt(suite, ctx, protectedServer.url);
  const stop = await protectedServer.stop();
  if (!stop.ok) return { ...r, passed: 0, failed: 1, detail: `${r.detail}; protected bastion: ${stop.detail}` };
  return r;
}

async function runConformanceAt(suite, ctx, url) {
  const outDir = path.join(ctx.dir, suite.name);
  const logFile = path.join(ctx.dir, `${suite.name}.log`);
  fs.mkdirSync(outDir, { recursive: true });
  const bin = path.join(E2E_DIR, 'node_modules', suite.pkg, 'dist', 'index.js');
  const r = await runLogged(NODE22, [bin, 'server', '--url', url, '-o', outDir, ...suite.args], {
    cwd: ctx.dir, env: ctx.env, logFile, timeoutMs: suite.timeoutMs, label: suite.name,
  });
  const log = readText(logFile);
  const results = conformanceResults(outDir);
  // alpha.12 lists the scenarios it ran but does not score under the requirement set.
  const unscored = new Set();
  const cut = log.indexOf('Not scored for');
  if (cut >= 0) for (const m of log.slice(cut).matchAll(/^\s+[✓✗] (\S+) \(/gm)) unscored.add(m[1]);
  let ok = 0;
  let bad = 0;
  let warn = 0;
  const failures = [];
  for (const { scenario, checks } of results) {
    for (const c of checks) {
      if (c.status === 'SUCCESS') ok++;
      else if (c.status === 'FAILURE') bad++;
      else if (c.status === 'WARNING') warn++;
      if (c.status === 'FAILURE' || c.status === 'WARNING') {
        const why = c.errorMessage || c.description || '';
        failures.push(`${c.status === 'FAILURE' ? 'FAIL' : 'warn'} ${scenario}${unscored.has(scenario) ? ' (not scored)' : ''}: ${c.id}: ${why}`.slice(0, 400));
      }
    }
  }
  for (const name of suite.mustPass ?? []) {
    const ran = results.filter((x) => x.scenario === name);
    if (ran.length === 0) failures.push(`FAIL ${name}: required scenario did not run`);
    for (const { checks } of ran)
      for (const c of checks)
        if (c.status === 'FAILURE' || c.status === 'WARNING')
          failures.push(`FAIL ${name} (required): ${c.id}: ${c.errorMessage || c.description || ''}`.slice(0, 400));
  }
  const requiredFailed = failures.some((f) => f.includes('(required)') || f.includes('required scenario did not run'));
  const passed = r.code === 0 && !r.timedOut && !requiredFailed;
  const detail = `${results.length} scenarios, ${ok} checks ok, ${bad} failing, ${warn} warnings` +
    (unscored.size ? `, ${unscored.size} scenarios not scored` : '') +
    (r.timedOut ? `; TIMED OUT after ${seconds(suite.timeoutMs)}` : passed ? '' : `; exit ${r.code}`);
  return {
    passed: passed ? 1 : 0,
    failed: passed ? 0 : 1,
    ms: r.ms,
    detail,
    failures: passed ? failures.filter((f) => f.startsWith('warn')) : failures,
    log: passed ? '' : (results.length ? '' : tail(log, 40)),
  };
}

// A script that prints "N passed, M failed" last, run in a fresh network namespace where only
// loopback is up (`unshare -n`), so that nothing it opens is reachable from outside.
async function runNetnsScript(suite, ctx) {
  const logFile = path.join(ctx.dir, `${suite.name}.log`);
  const r = await runLogged('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', NODE22, path.join(E2E_DIR, suite.file)], {
    cwd: E2E_DIR, env: ctx.env, logFile, timeoutMs: suite.timeoutMs, label: suite.name,
  });
  const log = readText(logFile);
  const m = [...log.matchAll(/^(\d+) passed, (\d+) failed$/gm)].pop();
  const passed = m ? Number(m[1]) : 0;
  const failed = m ? Number(m[2]) + (r.code !== 0 && Number(m[2]) === 0 ? 1 : 0) : 1;
  return {
    passed,
    failed,
    ms: r.ms,
    detail: m ? `${passed} checks ok, ${Number(m[2])} failing${r.timedOut ? '; TIMED OUT' : ''}` : `no summary (${r.timedOut ? 'timed out' : `exit ${r.code}`})`,
    log: failed ? tail(log, 40) : '',
  };
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const selected = SUITES.filter((s) => (opts.only ? opts.only.has(s.name) : true) && !opts.skip.has(s.name));
  if (opts.list) {
    for (const s of SUITES) console.log(`${s.name.padEnd(20)} ${s.what}`);
    return 0;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    console.error(`e2e: needs Node 22 or newer (this is ${process.version}); run tests/e2e/run.sh`);
    console.log('0 passed, 1 failed');
    return 1;
  }

  const bin = path.resolve(REPO_ROOT, process.env.BASTION_BIN || path.join('build', 'apps', 'bastion', 'bastion'));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const artifacts = path.join(E2E_DIR, 'artifacts');
  const dir = path.join(artifacts, stamp);
  fs.mkdirSync(dir, { recursive: true });
  pruneOldRuns(artifacts, 5);

  console.log(`e2e: bastion ${path.relative(REPO_ROOT, bin) || bin}, node ${process.version}, artifacts ${path.relative(REPO_ROOT, dir)}`);
  console.log(`e2e: suites: ${selected.map((s) => s.name).join(', ')}`);

  const results = [];  // {name, passed, failed, ms, detail, failures, log}
  const record = (name, r) => {
    results.push({ name, ...r });
    const verdict = r.failed ? 'FAIL' : 'PASS';
    console.log(`${verdict}  ${name.padEnd(20)} ${r.detail}  (${seconds(r.ms || 0)})`);
    for (const f of r.failures || []) console.log(`      - ${f}`);
    if (r.log) console.log(indent(r.log.trimEnd()));
  };

  if (!fs.existsSync(bin)) {
    record('start', { passed: 0, failed: 1, detail: `no binary at ${path.relative(REPO_ROOT, bin)}: build it with scripts/build.sh` });
    return summary(results);
  }

  const config = path.join(dir, 'e2e.yaml');
  writeConfig(config);

  let server;
  const t0 = Date.now();
  try {
    server = await startServer(bin, config, dir);
  } catch (e) {
    record('start', { passed: 0, failed: 1, ms: Date.now() - t0, detail: 'bastion serve did not start', log: e.message });
    return summary(results);
  }
  // The documented start-up line (what a person sees).
  await sleep(200);
  const banner = readText(server.logFile).match(/serving MCP at (http:\/\/127\.0\.0\.1:(\d+)\/mcp)\b/);
  record('start', {
    passed: banner && Number(banner[2]) === server.port ? 1 : 0,
    failed: banner && Number(banner[2]) === server.port ? 0 : 1,
    ms: Date.now() - t0,
    detail: banner ? `port ${server.port}, prints "serving MCP at ${banner[1]}"` : `port ${server.port}, but no "serving MCP at http://127.0.0.1:${server.port}/mcp" line`,
  });

  const env = {
    ...process.env,
    BASTION_PORT: String(server.port),
    BASTION_BIN: bin,
    BASTION_E2E_CONFIG: config,
    BASTION_E2E_ARTIFACTS: dir,
    BASTION_DEMO_PATH: DEMO_PATH,
    BASTION_CONFORMANCE_PATH: CONFORMANCE_PATH,
    BASTION_NODE22: NODE22,
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
  const ctx = { dir, env, port: server.port, bin };

  for (const suite of selected) {
    if (server.exitState()) {
      record(suite.name, { passed: 0, failed: 1, detail: `not run: bastion exited (${JSON.stringify(server.exitState())})` });
      continue;
    }
    const r = suite.kind === 'node-test' ? await runNodeTest(suite, ctx)
      : suite.kind === 'netns-script' ? await runNetnsScript(suite, ctx)
        : await runConformance(suite, ctx);
    record(suite.name, r);
  }

  const t1 = Date.now();
  const stop = await stopServer(server);
  record('stop', { passed: stop.ok ? 1 : 0, failed: stop.ok ? 0 : 1, ms: Date.now() - t1, detail: `SIGTERM: ${stop.detail}`, log: stop.ok ? '' : tail(readText(server.logFile), 30) });
  const crash = readText(server.logFile).match(/^.*(AddressSanitizer|Segmentation fault|terminate called|Aborted).*$/m);
  if (crash) record('server-log', { passed: 0, failed: 1, detail: `the server log shows a crash: ${crash[0]}` });
  return summary(results);
}

function pruneOldRuns(artifacts, keep) {
  let runs = [];
  try {
    runs = fs.readdirSync(artifacts).filter((d) => /^\d{4}-\d{2}-\d{2}T/.test(d)).sort();
  } catch {
    return;
  }
  for (const old of runs.slice(0, Math.max(0, runs.length - keep))) {
    fs.rmSync(path.join(artifacts, old), { recursive: true, force: true });
  }
}

function summary(results) {
  const passed = results.reduce((n, r) => n + (r.passed || 0), 0);
  const failed = results.reduce((n, r) => n + (r.failed || 0), 0);
  const skipped = results.reduce((n, r) => n + (r.skipped || 0), 0);
  const bad = results.filter((r) => r.failed).map((r) => r.name);
  console.log('');
  console.log(`e2e: ${results.length} stages; ${bad.length ? `failing: ${bad.join(', ')}` : 'all green'}`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
