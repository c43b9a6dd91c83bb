// A bastion instance of a test's own: written config, free loopback port (port 0 + --port-file),
// output captured, stopped by its PID with SIGTERM (SIGKILL after a bound). For suites whose
// configuration differs from the runner's shared server (auth, the embedded authorization server).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BASTION_BIN, ARTIFACTS_DIR } from './env.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `yaml` listens on port 0; URLs that depend on the port (issuer, resource) are derived by the
// server after it bound. `name` names the artifact folder.
export async function startBastion({ name, yaml, args = [], env = {}, startTimeoutMs = 30_000 }) {
  const dir = fs.mkdtempSync(path.join(ARTIFACTS_DIR, `${name}-`));
  const config = path.join(dir, 'bastion.yaml');
  fs.writeFileSync(config, yaml);
  const portFile = path.join(dir, 'port');
  let output = '';
  const child = spawn(BASTION_BIN, ['serve', '--config', config, '--port-file', portFile, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8').on('data', (d) => {
      output += d;
      fs.appendFileSync(path.join(dir, 'server.log'), d);
    });
  }
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const deadline = Date.now() + startTimeoutMs;
  let port = 0;
  while (Date.now() < deadline && !exited) {
    const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8').trim() : '';
    if (/^\d+$/.test(text)) {
      port = Number(text);
      break;
    }
    await sleep(50);
  }
  if (!port) {
    if (!exited) child.kill('SIGKILL');
    throw new Error(`bastion (${name}) did not start: ${exited ? JSON.stringify(exited) : 'no port file'}\n${output.slice(-4000)}`);
  }
  const origin = `http://127.0.0.1:${port}`;
  return {
    dir,
    config,
    port,
    origin,
    url: (p = '') => `${origin}${p}`,
    output: () => output,
    exitState: () => exited,
    async stop() {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const state = await exitPromise;
      clearTimeout(timer);
      return state;
    },
  };
}
