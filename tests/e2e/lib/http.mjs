// Plain HTTP for the transport-level tests. node:http rather than fetch: fetch adds headers of
// its own (Accept: */*), refuses a custom Host, and hides a response that arrives while the
// request body is still being sent (the 413 case).
import http from 'node:http';
import net from 'node:net';
import { HOST, PORT } from './env.mjs';

export const ACCEPT_BOTH = 'application/json, text/event-stream';

export function mcpHeaders({ session, version, accept = ACCEPT_BOTH, extra = {} } = {}) {
  const h = { 'Content-Type': 'application/json', Accept: accept };
  if (session) h['Mcp-Session-Id'] = session;
  if (version) h['MCP-Protocol-Version'] = version;
  return { ...h, ...extra };
}

let nextId = 1;
export function rpc(method, params, id = nextId++) {
  const m = { jsonrpc: '2.0', id, method };
  if (params !== undefined) m.params = params;
  return m;
}
export function notification(method, params) {
  const m = { jsonrpc: '2.0', method };
  if (params !== undefined) m.params = params;
  return m;
}

function bodyBytes(body) {
  if (body === undefined || body === null) return undefined;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}

// One request on a fresh connection; resolves once the whole response has arrived.
export function request({ method = 'POST', path, headers = {}, body, timeoutMs = 15000, host = HOST, port = PORT }) {
  const payload = bodyBytes(body);
  return new Promise((resolve, reject) => {
    const hdrs = { ...headers };
    if (payload && !Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-length')) {
      hdrs['Content-Length'] = payload.length;
    }
    const req = http.request({ host, port, method, path, headers: hdrs, agent: false });
    const timer = setTimeout(() => {
      req.destroy(new Error(`${method} ${path}: no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    let responded = false;
    req.on('response', (res) => {
      responded = true;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve(new Reply(res.statusCode, res.headers, Buffer.concat(chunks).toString('utf8')));
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.on('error', (e) => {
      // A server that answers early (413) may reset the connection while we still send: the
      // response, if it came, is what counts.
      if (responded) return;
      clearTimeout(timer);
      reject(e);
    });
    if (payload) {
      writeInChunks(req, payload);
    } else {
      req.end();
    }
  });
}

function writeInChunks(req, payload) {
  const chunk = 64 * 1024;
  let offset = 0;
  const pump = () => {
    while (offset < payload.length) {
      const piece = payload.subarray(offset, offset + chunk);
      offset += piece.length;
      if (req.destroyed) return;
      if (!req.write(piece)) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
}

// Sends only a request head (no body) on a raw socket and resolves with the status line and
// headers of the answer, e.g. to see a 413 for a declared Content-Length without streaming
// megabytes into a connection the server is about to close.
export function requestHead({ method = 'POST', path, headers = {}, timeoutMs = 10000, host = HOST, port = PORT }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${method} ${path}: no response head within ${timeoutMs} ms (got ${JSON.stringify(data.slice(0, 200))})`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}:${port}`];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    });
    socket.on('data', (chunk) => {
      data += chunk;
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      // Skip interim 1xx answers (100 Continue): the final status is what counts.
      const head = data.slice(0, end);
      const status = Number(head.split(' ')[1]);
      if (status >= 100 && status < 200) {
        data = data.slice(end + 4);
        return;
      }
      clearTimeout(timer);
      const hdrs = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) hdrs[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      socket.destroy();
      resolve({ status, headers: hdrs, head });
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export class Reply {
  constructor(status, headers, text) {
    this.status = status;
    this.headers = headers;
    this.text = text;
  }
  get contentType() {
    return String(this.headers['content-type'] || '');
  }
  get isEventStream() {
    return this.contentType.toLowerCase().startsWith('text/event-stream');
  }
  json() {
    try {
      return JSON.parse(this.text);
    } catch (e) {
      throw new Error(`response is not JSON (status ${this.status}, ${this.contentType}): ${this.text.slice(0, 300)}`);
    }
  }
  // The JSON-RPC messages of the response, whether it came as JSON or as an SSE stream.
  messages() {
    if (this.isEventStream) {
      return parseSse(this.text)
        .filter((e) => e.data.trim() !== '')
        .map((e) => JSON.parse(e.data));
    }
    if (this.text.trim() === '') return [];
    const v = this.json();
    return Array.isArray(v) ? v : [v];
  }
  // The JSON-RPC response with this id (or the only response when id is undefined).
  response(id) {
    const found = this.messages().filter((m) => 'result' in m || 'error' in m);
    const match = id === undefined ? found[0] : found.find((m) => m.id === id);
    if (!match) throw new Error(`no JSON-RPC response${id === undefined ? '' : ` with id ${id}`} in: ${this.text.slice(0, 500)}`);
    return match;
  }
  describe() {
    return `${this.status} ${this.contentType} ${this.text.slice(0, 300)}`;
  }
}

// Server-Sent Events (HTML Living Standard §9.2.6), enough for MCP: id, event, data, retry.
export function parseSse(text) {
  const events = [];
  const blocks = text.replace(/\r\n/g, '\n').replace(/\r/g, '\n').split('\n\n');
  // The last block is complete only when the text ended with a blank line.
  const complete = text.endsWith('\n\n') || text.endsWith('\r\n\r\n') ? blocks : blocks.slice(0, -1);
  for (const block of complete) {
    const ev = parseSseBlock(block);
    if (ev) events.push(ev);
  }
  return events;
}

function parseSseBlock(block) {
  if (block.trim() === '') return null;
  const ev = { id: undefined, event: 'message', data: '', retry: undefined };
  const data = [];
  let fields = 0;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    fields++;
    if (field === 'data') data.push(value);
    else if (field === 'id') ev.id = value;
    else if (field === 'event') ev.event = value;
    else if (field === 'retry') ev.retry = Number(value);
  }
  if (fields === 0) return null;  // comments only (keep-alive)
  ev.data = data.join('\n');
  return ev;
}

// A response that stays open (an SSE stream): resolves on the response head; events are read
// one by one with next(), each with its own deadline. close() ends the connection.
export function openStream({ method = 'GET', path, headers = {}, body, timeoutMs = 10000, host = HOST, port = PORT }) {
  const payload = bodyBytes(body);
  return new Promise((resolve, reject) => {
    const hdrs = { ...headers };
    if (payload) hdrs['Content-Length'] = payload.length;
    const req = http.request({ host, port, method, path, headers: hdrs, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no response head within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      resolve(new Stream(req, res));
    });
    if (payload) req.end(payload);
    else req.end();
  });
}

class Stream {
  constructor(req, res) {
    this.req = req;
    this.res = res;
    this.status = res.statusCode;
    this.headers = res.headers;
    this.raw = '';
    this.buffer = '';
    this.events = [];
    this.ended = false;
    this.waiters = [];
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      this.raw += chunk;
      this.buffer += chunk.replace(/\r\n/g, '\n');
      let cut;
      while ((cut = this.buffer.indexOf('\n\n')) !== -1) {
        const ev = parseSseBlock(this.buffer.slice(0, cut));
        this.buffer = this.buffer.slice(cut + 2);
        if (ev) this.events.push(ev);
      }
      this.wake();
    });
    const finish = () => {
      this.ended = true;
      this.wake();
    };
    res.on('end', finish);
    res.on('close', finish);
    res.on('error', finish);
  }
  get contentType() {
    return String(this.headers['content-type'] || '');
  }
  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  // The next event, or null when the stream ended first; throws after timeoutMs.
  async next(timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SSE event within ${timeoutMs} ms (received so far: ${JSON.stringify(this.raw.slice(0, 300))})`);
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.events.shift();
  }
  // Events up to and including the first one for which pred(event) is true.
  async until(pred, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    const seen = [];
    for (let i = 0; i < 10000; i++) {
      const ev = await this.next(Math.max(1, deadline - Date.now()));
      if (ev === null) throw new Error(`stream ended before the expected event; got ${JSON.stringify(seen).slice(0, 500)}`);
      seen.push(ev);
      if (pred(ev)) return seen;
    }
    throw new Error('too many events');
  }
  // Whatever the server sends until it ends the stream (bounded).
  async rest(timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    const seen = [];
    for (let i = 0; i < 10000; i++) {
      const ev = await this.next(Math.max(1, deadline - Date.now()));
      if (ev === null) return seen;
      seen.push(ev);
    }
    throw new Error('too many events');
  }
  close() {
    this.res.destroy();
    this.req.destroy();
  }
}

export function jsonEvents(events) {
  return events.filter((e) => e.data.trim() !== '').map((e) => JSON.parse(e.data));
}

// initialize + notifications/initialized on the Streamable HTTP endpoint at `path`.
export async function openSession(path, { version = '2025-06-18', headers = {}, capabilities = {}, port = PORT } = {}) {
  const init = rpc('initialize', {
    protocolVersion: version,
    capabilities,
    clientInfo: { name: 'bastion-e2e-http', version: '1.0.0' },
  });
  const reply = await request({ path, port, headers: mcpHeaders({ extra: headers }), body: init });
  if (reply.status !== 200) throw new Error(`initialize failed: ${reply.describe()}`);
  const session = reply.headers['mcp-session-id'];
  if (!session) throw new Error(`initialize answered without Mcp-Session-Id: ${reply.describe()}`);
  const result = reply.response(init.id).result;
  const negotiated = result.protocolVersion;
  const ack = await request({
    path,
    port,
    headers: mcpHeaders({ session, version: negotiated, extra: headers }),
    body: notification('notifications/initialized'),
  });
  if (ack.status !== 202) throw new Error(`notifications/initialized: ${ack.describe()}`);
  return { session, version: negotiated, result };
}

export async function call(path, session, version, method, params, extra = {}) {
  const msg = rpc(method, params);
  const reply = await request({ path, headers: mcpHeaders({ session, version, extra }), body: msg });
  return { reply, msg };
}

export async function closeSession(path, session) {
  return request({ method: 'DELETE', path, headers: { 'Mcp-Session-Id': session } });
}
