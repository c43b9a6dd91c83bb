// The bastion command line as documented: --version, --help, check-config (exit 2 on a bad
// file, with file:line:col), serve (port file, graceful SIGTERM, a taken port), and stdio (only
// MCP messages on stdout, one per line).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { run, describeRun } from './lib/proc.mjs';
import { request, openStream, openSession } from './lib/http.mjs';
import { BASTION_BIN, CONFIG_FILE, ARTIFACTS_DIR, PORT, DEMO_PATH } from './lib/env.mjs';

const bastion = (args, opts = {}) => run(BASTION_BIN, args, { timeoutMs: 20000, ...opts });
fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
const scratch = fs.mkdtempSync(path.join(ARTIFACTS_DIR, 'cli-'));
const writeScratch = (name, text) => {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, text);
  return file;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('informational commands', () => {
  test('--version prints the version and exits 0', async () => {
    const r = await bastion(['--version']);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /bastion \d+\.\d+\.\d+/i);
  });

  test('--help names the subcommands and exits 0', async () => {
    const r = await bastion(['--help']);
    assert.equal(r.code, 0, describeRun(r));
    for (const cmd of ['serve', 'stdio', 'check-config', 'hash-password', 'digest-arguments']) assert.match(r.stdout, new RegExp(cmd));
  });

  test('serve --help names its options', async () => {
    const r = await bastion(['serve', '--help']);
    assert.equal(r.code, 0, describeRun(r));
    for (const o of ['--config', '--port', '--listen', '--port-file']) assert.ok(r.stdout.includes(o), `${o} missing:\n${r.stdout}`);
  });

  test('an unknown subcommand fails', async () => {
    const r = await bastion(['frobnicate']);
    assert.notEqual(r.code, 0, describeRun(r));
  });
});

// A server's request lines and audit records show the HMAC of tool arguments under
// security.argument_digest_key (observability.test.mjs checks a server's against this command).
describe('digest-arguments', () => {
  const keyFile = writeScratch('digest.key', 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n');  // base64 of 32 bytes
  const keyed = writeScratch('digest-keyed.yaml', `security:\n  argument_digest_key: \${file:${keyFile}}\nroutes:\n  - path: /mcp\n    modules: [demo]\n`);

  test('prints the HMAC-SHA-256 of the compact arguments under the key, and only that on stdout', async () => {
    const r = await bastion(['digest-arguments', '--config', keyed], { input: '{ "pin" : "1234" }\n' });
    assert.equal(r.code, 0, describeRun(r));
    // The key's bytes are the ASCII "0123456789abcdef" twice; the message is the arguments' compact JSON.
    const expected = createHmac('sha256', '0123456789abcdef0123456789abcdef').update('{"pin":"1234"}').digest('hex');
    assert.equal(r.stdout, `hmac-sha256:${expected}\n`);
    assert.match(r.stderr, /key with id [0-9a-f]{16}/);
  });

  test('refuses a config without a key, input that is not one JSON object, and input no request could carry, with exit 2', async () => {
    const keyless = writeScratch('digest-keyless.yaml', 'routes:\n  - path: /mcp\n    modules: [demo]\n');
    let r = await bastion(['digest-arguments', '--config', keyless], { input: '{}' });
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /sets no security\.argument_digest_key/);
    assert.equal(r.stdout, '');
    const small = writeScratch('digest-small.yaml', `limits:\n  max_body_bytes: 1024\nsecurity:\n  argument_digest_key: \${file:${keyFile}}\n`);
    r = await bastion(['digest-arguments', '--config', small], { input: JSON.stringify({ text: 'x'.repeat(1100) }) });
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /longer than limits\.max_body_bytes \(1024 bytes\)/);
    r = await bastion(['digest-arguments', '--config', small], { input: JSON.stringify({ text: 'x'.repeat(900) }) });
    assert.equal(r.code, 0, describeRun(r));
    for (const input of ['[1, 2]', '{"pin": ', '']) {
      r = await bastion(['digest-arguments', '--config', keyed], { input });
      assert.equal(r.code, 2, `${JSON.stringify(input)}: ${describeRun(r)}`);
      assert.match(r.stderr, /must be one JSON object/);
      assert.equal(r.stdout, '');
    }
  });

  test('check-config refuses a literal key and a key of the wrong size', async () => {
    const literal = writeScratch('digest-literal.yaml', 'security:\n  argument_digest_key: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n');
    let r = await bastion(['check-config', literal]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /digest-literal\.yaml:2:\d+: security\.argument_digest_key: a secret: write it as a reference/);
    assert.ok(!r.stderr.includes('MDEyMzQ1'), 'the key was quoted');
    const shortKey = writeScratch('digest-short.key', 'c2hvcnQ=');
    const short = writeScratch('digest-short.yaml', `security:\n  argument_digest_key: \${file:${shortKey}}\n`);
    r = await bastion(['check-config', short]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /security\.argument_digest_key: must be the base64 of exactly 32 random bytes/);
  });
});

describe('check-config', () => {
  test('accepts the e2e config', { skip: !CONFIG_FILE }, async () => {
    const r = await bastion(['check-config', CONFIG_FILE]);
    assert.equal(r.code, 0, describeRun(r));
  });

  test('rejects an unknown key with exit 2 and file:line:col', async () => {
    const file = writeScratch('unknown-key.yaml', 'listeners:\n  - address: 127.0.0.1\n    port: 0\n    colour: blue\nroutes:\n  - path: /mcp\n    modules: [demo]\n');
    const r = await bastion(['check-config', file]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /unknown-key\.yaml:4:\d+/, describeRun(r));
    assert.match(r.stderr, /colour/);
  });

  test('rejects an unknown module with exit 2', async () => {
    const file = writeScratch('unknown-module.yaml', 'routes:\n  - path: /mcp\n    modules: [no_such_module]\n');
    const r = await bastion(['check-config', file]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /no_such_module/);
  });

  test('rejects YAML that does not parse with exit 2', async () => {
    const file = writeScratch('broken.yaml', 'routes: [\n  - path: /mcp\n');
    const r = await bastion(['check-config', file]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /broken\.yaml/);
  });

  test('a missing file is an error', async () => {
    const r = await bastion(['check-config', path.join(scratch, 'does-not-exist.yaml')]);
    assert.notEqual(r.code, 0, describeRun(r));
  });
});

describe('serve', () => {
  test('a bad config file: exit 2 before listening', async () => {
    const file = writeScratch('bad-serve.yaml', 'listeners:\n  - address: 127.0.0.1\n    port: 0\nroutes: 42\n');
    const r = await bastion(['serve', '--config', file, '--port-file', path.join(scratch, 'never.port')]);
    assert.equal(r.code, 2, describeRun(r));
    assert.equal(fs.existsSync(path.join(scratch, 'never.port')), false);
  });

  test('a port that is taken: non-zero exit, no crash', { skip: !CONFIG_FILE }, async () => {
    const r = await bastion(['serve', '--config', CONFIG_FILE, '--port', String(PORT)], { timeoutMs: 15000 });
    assert.equal(r.timedOut, false, `a second server bound the same port: ${describeRun(r)}`);
    assert.equal(r.code, 1, describeRun(r));
    assert.equal(r.signal, null);
  });

  test('port 0 + --port-file, serves, and SIGTERM ends it gracefully with exit 0 (open streams too)', async () => {
    const portFile = path.join(scratch, 'graceful.port');
    const args = ['serve', '--port', '0', '--port-file', portFile, ...(CONFIG_FILE ? ['--config', CONFIG_FILE] : [])];
    const child = spawn(BASTION_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      let port = 0;
      for (let i = 0; i < 200 && !port; i++) {
        const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8').trim() : '';
        if (/^\d+$/.test(text)) port = Number(text);
        else await sleep(50);
      }
      assert.ok(port > 0 && port !== PORT, `no port file: ${out}`);
      const health = await request({ method: 'GET', path: '/healthz', port });
      assert.equal(health.status, 200);
      // An open GET stream must not hold up the shutdown.
      const s = await openSession(DEMO_PATH, { port, version: '2025-11-25' }).catch(() => null);
      const stream = s && await openStream({ path: DEMO_PATH, port, headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': s.session, 'MCP-Protocol-Version': s.version } });
      child.kill('SIGTERM');
      let timer;
      const result = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), 20000); })]);
      clearTimeout(timer);
      stream?.close();
      assert.notEqual(result, 'timeout', `no exit within 20 s of SIGTERM:\n${out}`);
      assert.deepEqual(result, { code: 0, signal: null }, out);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

describe('stdio', () => {
  const stdioArgs = ['stdio', ...(CONFIG_FILE ? ['--config', CONFIG_FILE, '--route', DEMO_PATH] : [])];

  test('answers line by line, only JSON-RPC on stdout, and exits 0 at end of input', async () => {
    const lines = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e-stdio', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'line\nbreak' } } },
      { jsonrpc: '2.0', id: 'three', method: 'ping' },
    ].map((m) => JSON.stringify(m));
    lines.push('{ this is not json');
    const r = await bastion(stdioArgs, { input: lines.join('\n') + '\n' });
    assert.equal(r.code, 0, describeRun(r));
    const out = r.stdout.split('\n').filter((l) => l !== '');
    const messages = out.map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        assert.fail(`stdout carries something that is not a JSON-RPC message: ${JSON.stringify(l)}`);
      }
    });
    for (const m of messages) assert.equal(m.jsonrpc, '2.0');
    const byId = (id) => messages.find((m) => m.id === id);
    assert.equal(byId(1)?.result?.protocolVersion, '2025-11-25', r.stdout);
    assert.equal(byId(2)?.result?.content?.[0]?.text, 'line\nbreak', r.stdout);
    assert.deepEqual(byId('three')?.result, {}, r.stdout);
    assert.ok(messages.some((m) => m.error?.code === -32700), `no parse error for the bad line: ${r.stdout}`);
    assert.equal(messages.length, 4, r.stdout);
  });

  test('an unknown --route is exit 2', { skip: !CONFIG_FILE }, async () => {
    const r = await bastion(['stdio', '--config', CONFIG_FILE, '--route', '/no/such/route'], { input: '' });
    assert.equal(r.code, 2, describeRun(r));
  });

  test('the embedded default serves the demo tools over stdio', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } };
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const r = await bastion(['stdio'], { input: `${JSON.stringify(init)}\n${JSON.stringify(list)}\n` });
    assert.equal(r.code, 0, describeRun(r));
    const tools = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.id === 2)?.result?.tools ?? [];
    assert.ok(tools.some((t) => t.name === 'echo'), r.stdout);
  });
});
