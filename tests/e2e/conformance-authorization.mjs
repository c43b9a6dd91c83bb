// The official conformance suite's authorization-server scenarios (`conformance authorization`
// of @modelcontextprotocol/conformance 0.2.0-alpha.12: authorization-server-metadata-endpoint and
// authorization-code-grant) against Bastion's embedded authorization server. The grant needs a
// person: the suite prints the authorization URL and waits on its callback listener, and
// headless Chromium (lib/browser-login.mjs) signs in and approves.
//
// The suite's callback listener may bind beyond loopback, so this script must run in a network
// namespace of its own with only loopback up; run.mjs starts it that way:
//   unshare -n sh -c 'ip link set lo up && exec node tests/e2e/conformance-authorization.mjs'
// The binary, the suite and the browser all live inside that namespace. The last line printed is
// "N passed, M failed" (checks of the suite); the exit code is non-zero on any failure.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBastion } from './lib/bastion.mjs';
import { browserSignIn } from './lib/browser-login.mjs';
import { run } from './lib/proc.mjs';
import { ARTIFACTS_DIR, BASTION_BIN, E2E_DIR } from './lib/env.mjs';

const CALLBACK_PORT = 39123;  // fixed: nothing else lives in this private network namespace
const CLIENT_ID = 'conformance-client';
const PASSWORD = 'conformance-password-1';
const SUITE_TIMEOUT_MS = 3 * 60_000;

function onlyLoopback() {
  const interfaces = os.networkInterfaces();
  return Object.values(interfaces).flat().every((a) => a.internal);
}

async function main() {
  if (!onlyLoopback() && process.env.BASTION_ALLOW_HOST_NETWORK !== '1') {
    console.error('conformance-authorization: refusing to run with non-loopback interfaces up; run it under `unshare -n` (see the header)');
    console.log('0 passed, 1 failed');
    return 1;
  }
  const out = path.join(ARTIFACTS_DIR, 'conformance-authorization');
  fs.mkdirSync(out, { recursive: true });
  const hash = await run(BASTION_BIN, ['hash-password'], { input: `${PASSWORD}\n`, timeoutMs: 30_000 });
  if (hash.code !== 0) throw new Error(`hash-password failed: ${hash.stderr}`);
  const bastion = await startBastion({
    name: 'conformance-as',
    yaml: `listeners:
  - address: 127.0.0.1
    port: 0
routes:
  - path: /mcp
    modules: [demo]
authorization_server:
  data_dir: ":memory:"
  users:
    - username: alice
      password_hash: "${hash.stdout.trim()}"
  clients:
    - client_id: ${CLIENT_ID}
      client_name: MCP conformance suite
      redirect_uris: [http://127.0.0.1:${CALLBACK_PORT}/callback]
`,
  });
  let code = 1;
  try {
    const bin = path.join(E2E_DIR, 'node_modules', 'conformance-next', 'dist', 'index.js');
    const args = [bin, 'authorization', '--url', bastion.origin, '--client-id', CLIENT_ID, '--resource', bastion.url('/mcp'),
      '--port', String(CALLBACK_PORT), '-o', out];
    const log = fs.openSync(path.join(out, 'suite.log'), 'w');
    const child = spawn(process.execPath, args, { cwd: out, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let signIn = null;
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      fs.writeSync(log, d);
      const m = stdout.match(/^(https?:\/\/\S+\/oauth\/authorize\?\S+)$/m);
      if (m && !signIn) {
        // The person's step: sign in and allow in the browser; it follows the redirect to the
        // suite's callback listener.
        signIn = browserSignIn(m[1], { username: 'alice', password: PASSWORD, artifactsDir: out, name: 'conformance' })
          .then((r) => console.log(`browser: sent back to ${new URL(r.callbackUrl).origin}${new URL(r.callbackUrl).pathname}`))
          .catch((e) => console.log(`browser: ${e.message}`));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d) => fs.writeSync(log, d));
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, SUITE_TIMEOUT_MS);
    const exit = await new Promise((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    if (signIn) await signIn;
    fs.closeSync(log);

    let passed = 0;
    let failed = 0;
    const lines = [];
    for (const dir of fs.readdirSync(out).sort()) {
      const file = path.join(out, dir, 'checks.json');
      if (!fs.existsSync(file)) continue;
      for (const c of JSON.parse(fs.readFileSync(file, 'utf8'))) {
        if (c.status === 'SUCCESS') passed++;
        else if (c.status === 'FAILURE') failed++;
        lines.push(`${c.status.padEnd(8)} ${c.id}${c.errorMessage ? `: ${c.errorMessage}` : ''}`);
      }
    }
    for (const l of lines) console.log(l);
    const scenarios = fs.readdirSync(out).filter((d) => fs.existsSync(path.join(out, d, 'checks.json'))).length;
    if (scenarios < 2) failed++;
    console.log(`suite exit ${exit}, ${scenarios} scenarios`);
    console.log(`${passed} passed, ${failed} failed`);
    code = exit === 0 && failed === 0 ? 0 : 1;
  } finally {
    await bastion.stop();
  }
  return code;
}

main().then((c) => process.exit(c), (e) => {
  console.error(e);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
