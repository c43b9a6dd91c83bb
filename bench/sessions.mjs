// Opens many idle MCP sessions (initialize + notifications/initialized, nothing after) over
// keep-alive connections, for bench/run.sh's memory figure. Bounded in count and in time.
//
//   node bench/sessions.mjs --url http://127.0.0.1:PORT/mcp --count 10000 [--concurrency 16]
//                           [--time-limit-s 120]
// Prints one line: SESSIONS created=N failed=M seconds=S first_error="..."
import http from 'node:http';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const url = new URL(opt('--url', 'http://127.0.0.1:8080/mcp'));
const count = Math.min(Number(opt('--count', '10000')), 100000);
const concurrency = Math.max(1, Math.min(Number(opt('--concurrency', '16')), 256));
const timeLimitMs = Number(opt('--time-limit-s', '120')) * 1000;
if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost' && url.hostname !== '[::1]') {
  console.error('sessions: loopback targets only');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const started = Date.now();

function post(body, session) {
  const payload = Buffer.from(JSON.stringify(body));
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'Content-Length': payload.length,
  };
  if (session) {
    headers['Mcp-Session-Id'] = session;
    headers['MCP-Protocol-Version'] = '2025-06-18';
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, session: res.headers['mcp-session-id'] }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

let created = 0;
let failed = 0;
let next = 0;
let firstError = '';

async function openOne(i) {
  const init = {
    jsonrpc: '2.0',
    id: i,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench-idle', version: '1' } },
  };
  const r = await post(init);
  if (r.status !== 200 || !r.session) throw new Error(`initialize: HTTP ${r.status}`);
  const ack = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, r.session);
  if (ack.status !== 202) throw new Error(`notifications/initialized: HTTP ${ack.status}`);
}

async function worker() {
  while (next < count && Date.now() - started < timeLimitMs) {
    const i = next++;
    try {
      await openOne(i);
      created++;
    } catch (e) {
      failed++;
      if (!firstError) firstError = e.message;
      // A server that refuses (session cap) refuses every time: stop early.
      if (failed >= 100 && created === 0) return;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
agent.destroy();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`SESSIONS created=${created} failed=${failed} seconds=${seconds} first_error="${firstError}"`);
