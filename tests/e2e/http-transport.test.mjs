// Streamable HTTP and HTTP+SSE at the wire: status codes, headers, sessions, SSE resumption.
// Spec: MCP 2025-11-25 basic/transports.mdx (and 2025-03-26 for batches, 2024-11-05 for
// HTTP+SSE); checklist items 59-67 and 76-78 of shared/spec/MCP-REQUIREMENTS.md. The de facto
// codes (406, 415, 409, 4 MiB) are the TypeScript SDK's.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  request, requestHead, openStream, openSession, call, closeSession, mcpHeaders, rpc, notification, jsonEvents, parseSse,
} from './lib/http.mjs';
import { ORIGIN, PORT, DEMO_PATH, CONFORMANCE_PATH } from './lib/env.mjs';

const P = DEMO_PATH;
const ping = () => rpc('ping');

function assertRpcError(reply, { status, code } = {}) {
  if (status !== undefined) assert.equal(reply.status, status, reply.describe());
  assert.ok(reply.status >= 400, `expected an HTTP error, got ${reply.describe()}`);
  if (code !== undefined) {
    const body = reply.json();
    assert.ok(!Array.isArray(body), `expected one JSON-RPC error object, got an array: ${reply.text}`);
    assert.equal(body.jsonrpc, '2.0', reply.text);
    assert.equal(typeof body.error, 'object', reply.text);
    assert.equal(body.error.code, code, reply.text);
    assert.equal(typeof body.error.message, 'string', reply.text);
  }
}

const sessions = [];
async function session(opts) {
  const s = await openSession(P, opts);
  sessions.push(s.session);
  return s;
}
after(async () => {
  for (const s of sessions) await closeSession(P, s).catch(() => {});
});

describe('health', () => {
  test('GET /healthz answers 200', async () => {
    const r = await request({ method: 'GET', path: '/healthz' });
    assert.equal(r.status, 200, r.describe());
  });
  test('an unknown path is 404', async () => {
    const r = await request({ method: 'POST', path: '/no-such-route/mcp', headers: mcpHeaders(), body: ping() });
    assert.equal(r.status, 404, r.describe());
  });
});

describe('initialize and sessions', () => {
  test('initialize answers with a visible-ASCII Mcp-Session-Id and the requested version', async () => {
    const init = rpc('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'e2e', version: '1' },
    });
    const r = await request({ path: P, headers: mcpHeaders(), body: init });
    assert.equal(r.status, 200, r.describe());
    const id = r.headers['mcp-session-id'];
    assert.ok(id, 'no Mcp-Session-Id header');
    sessions.push(id);
    assert.match(id, /^[\x21-\x7e]+$/, 'session id must be visible ASCII (transports.mdx §Session Management)');
    assert.ok(id.length >= 16, `session id too short to be unguessable: ${id}`);
    const res = r.response(init.id);
    assert.equal(res.result.protocolVersion, '2025-06-18');
    assert.equal(typeof res.result.serverInfo?.name, 'string');
    assert.equal(typeof res.result.serverInfo?.version, 'string');
    assert.equal(typeof res.result.capabilities, 'object');
  });

  test('an unsupported requested version is answered with a supported one', async () => {
    const init = rpc('initialize', { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } });
    const r = await request({ path: P, headers: mcpHeaders(), body: init });
    if (r.headers['mcp-session-id']) sessions.push(r.headers['mcp-session-id']);
    if (r.status === 200) {
      const v = r.response(init.id).result.protocolVersion;
      assert.match(v, /^\d{4}-\d{2}-\d{2}$/);
      assert.notEqual(v, '1999-01-01');
    } else {
      assertRpcError(r);
    }
  });

  test('two sessions get different ids', async () => {
    const a = await session();
    const b = await session();
    assert.notEqual(a.session, b.session);
  });

  test('a request without Mcp-Session-Id is 400', async () => {
    const r = await request({ path: P, headers: mcpHeaders({ version: '2025-06-18' }), body: ping() });
    assertRpcError(r, { status: 400 });
  });

  test('an unknown Mcp-Session-Id is 404', async () => {
    const r = await request({
      path: P,
      headers: mcpHeaders({ session: 'no-such-session-0123456789abcdef', version: '2025-06-18' }),
      body: ping(),
    });
    assertRpcError(r, { status: 404 });
  });

  test('DELETE ends the session; the id is 404 afterwards, other sessions live on', async () => {
    const a = await session();
    const b = await session();
    const del = await closeSession(P, a.session);
    assert.ok(del.status >= 200 && del.status < 300, `DELETE: ${del.describe()}`);
    const after1 = await call(P, a.session, a.version, 'ping', {});
    assertRpcError(after1.reply, { status: 404 });
    const again = await closeSession(P, a.session);
    assert.equal(again.status, 404, `second DELETE: ${again.describe()}`);
    const other = await call(P, b.session, b.version, 'ping', {});
    assert.equal(other.reply.status, 200, other.reply.describe());
    assert.deepEqual(other.reply.response(other.msg.id).result, {});
  });

  test('a second initialize on an existing session is rejected', async () => {
    const s = await session();
    const init = rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } });
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version }), body: init });
    assertRpcError(r, { status: 400 });
  });

  test('an unsupported MCP-Protocol-Version header is 400', async () => {
    const s = await session();
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: '1999-01-01' }), body: ping() });
    assertRpcError(r, { status: 400 });
  });

  test('a request without MCP-Protocol-Version uses the negotiated version', async () => {
    const s = await session();
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session }), body: ping() });
    assert.equal(r.status, 200, r.describe());
  });

  test('a notification is accepted with 202 and no body', async () => {
    const s = await session();
    const r = await request({
      path: P,
      headers: mcpHeaders({ session: s.session, version: s.version }),
      body: notification('notifications/cancelled', { requestId: 424242, reason: 'e2e' }),
    });
    assert.equal(r.status, 202, r.describe());
    assert.equal(r.text, '');
  });

  test('a 64-bit request id is echoed exactly', async () => {
    const s = await session();
    const id = Date.now() * 1000 + 123;  // above 2^32, below 2^53
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version }), body: rpc('ping', {}, id) });
    assert.equal(r.status, 200, r.describe());
    assert.equal(r.response(id).id, id);
    const sid = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version }), body: rpc('ping', {}, 'str-id-1') });
    assert.equal(sid.response('str-id-1').id, 'str-id-1');
  });

  test('concurrent POSTs on one session are all answered, each with its own id', async () => {
    const s = await session();
    const calls = Array.from({ length: 16 }, (_, i) =>
      call(P, s.session, s.version, 'tools/call', { name: 'echo', arguments: { message: `concurrent-${i}` } }));
    const done = await Promise.all(calls);
    done.forEach(({ reply, msg }, i) => {
      assert.equal(reply.status, 200, reply.describe());
      const res = reply.response(msg.id);
      assert.equal(res.result.content[0].text, `concurrent-${i}`);
    });
  });
});

describe('request validation', () => {
  test('POST without Accept is 406', async () => {
    const s = await session();
    const r = await request({
      path: P,
      headers: { 'Content-Type': 'application/json', 'Mcp-Session-Id': s.session, 'MCP-Protocol-Version': s.version },
      body: ping(),
    });
    assertRpcError(r, { status: 406 });
  });

  test('POST accepting only application/json is 406', async () => {
    const s = await session();
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version, accept: 'application/json' }), body: ping() });
    assertRpcError(r, { status: 406 });
  });

  test('POST with a non-JSON Content-Type is 415', async () => {
    const s = await session();
    const r = await request({
      path: P,
      headers: mcpHeaders({ session: s.session, version: s.version, extra: { 'Content-Type': 'text/plain' } }),
      body: JSON.stringify(ping()),
    });
    assertRpcError(r, { status: 415 });
  });

  test('malformed JSON is 400 with a -32700 parse error', async () => {
    const s = await session();
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version }), body: '{"jsonrpc": "2.0", "id": 1, "method": ' });
    assertRpcError(r, { status: 400, code: -32700 });
  });

  test('a message that is not JSON-RPC is 400 with -32600', async () => {
    const s = await session();
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version }), body: { hello: 'world' } });
    assertRpcError(r, { status: 400, code: -32600 });
  });

  test('a body over 4 MiB is 413', async () => {
    // The declared length is enough to refuse: the answer comes before any body byte is sent
    // (with Expect: 100-continue, as curl sends for large bodies; RFC 9110 §10.1.1).
    const s = await session();
    for (const expect of [true, false]) {
      const r = await requestHead({
        path: P,
        headers: {
          ...mcpHeaders({ session: s.session, version: s.version }),
          'Content-Length': String(4 * 1024 * 1024 + 1),
          ...(expect ? { Expect: '100-continue' } : {}),
        },
      });
      assert.equal(r.status, 413, `${expect ? 'with' : 'without'} Expect: ${r.head}`);
    }
    // The server is still fine afterwards.
    const again = await call(P, s.session, s.version, 'ping', {});
    assert.equal(again.reply.status, 200, again.reply.describe());
  });

  test('a body just under the limit is served', async () => {
    const s = await session();
    const message = 'y'.repeat(1024 * 1024);
    const { reply, msg } = await call(P, s.session, s.version, 'tools/call', { name: 'echo', arguments: { message } });
    assert.equal(reply.status, 200, reply.describe());
    assert.equal(reply.response(msg.id).result.content[0].text.length, message.length);
  });

  test('an unsupported method is 405 with Allow', async () => {
    const r = await request({ method: 'PUT', path: P, headers: mcpHeaders(), body: ping() });
    assert.equal(r.status, 405, r.describe());
    assert.match(String(r.headers.allow || ''), /POST/);
  });

  test('a JSON-RPC batch on a 2025-06-18 session is a 4xx with one error object', async () => {
    const s = await session({ version: '2025-06-18' });
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version }), body: [ping(), ping()] });
    assert.ok(r.status >= 400 && r.status < 500, r.describe());
    const body = r.json();
    assert.ok(!Array.isArray(body), `expected a single error object: ${r.text}`);
    assert.equal(typeof body.error?.code, 'number', r.text);
  });

  test('a JSON-RPC batch on a 2025-03-26 session is answered as a batch', async () => {
    const s = await session({ version: '2025-03-26' });
    assert.equal(s.version, '2025-03-26');
    const a = rpc('ping', {});
    const b = rpc('tools/call', { name: 'echo', arguments: { message: 'batched' } });
    const r = await request({ path: P, headers: mcpHeaders({ session: s.session, version: s.version }), body: [a, b] });
    assert.equal(r.status, 200, r.describe());
    const all = r.messages();
    assert.equal(all.length, 2, r.text);
    assert.deepEqual(all.find((m) => m.id === a.id)?.result, {});
    assert.equal(all.find((m) => m.id === b.id)?.result?.content?.[0]?.text, 'batched');
  });

  test('unknown methods are -32601', async () => {
    const s = await session();
    const { reply, msg } = await call(P, s.session, s.version, 'no/such/method', {});
    const res = reply.response(msg.id);
    assert.equal(res.error?.code, -32601, reply.text);
  });
});

describe('DNS-rebinding defence (Host/Origin)', () => {
  const init = () => rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } });

  test('Host evil.example.com is 403', async () => {
    const r = await request({ path: P, headers: mcpHeaders({ extra: { Host: 'evil.example.com' } }), body: init() });
    assert.equal(r.status, 403, r.describe());
    assert.equal(r.headers['mcp-session-id'], undefined);
  });

  test('Origin http://evil.example.com is 403', async () => {
    const r = await request({ path: P, headers: mcpHeaders({ extra: { Origin: 'http://evil.example.com' } }), body: init() });
    assert.equal(r.status, 403, r.describe());
  });

  test('Host evil.example.com on the legacy SSE endpoint is 403', async () => {
    const r = await request({ method: 'GET', path: `${P}/sse`, headers: { Accept: 'text/event-stream', Host: 'evil.example.com' } });
    assert.equal(r.status, 403, r.describe());
  });

  test(`Host 127.0.0.1:PORT with a matching Origin is served`, async () => {
    const r = await request({ path: P, headers: mcpHeaders({ extra: { Host: `127.0.0.1:${PORT}`, Origin: ORIGIN } }), body: init() });
    assert.equal(r.status, 200, r.describe());
    if (r.headers['mcp-session-id']) sessions.push(r.headers['mcp-session-id']);
  });

  test('Host localhost:PORT is served', async () => {
    const r = await request({ path: P, headers: mcpHeaders({ extra: { Host: `localhost:${PORT}` } }), body: init() });
    assert.equal(r.status, 200, r.describe());
    if (r.headers['mcp-session-id']) sessions.push(r.headers['mcp-session-id']);
  });
});

describe('SSE streams', () => {
  test('GET opens the standalone stream; a second GET on the session is 409', async () => {
    const s = await session();
    const h = { Accept: 'text/event-stream', 'Mcp-Session-Id': s.session, 'MCP-Protocol-Version': s.version };
    const first = await openStream({ path: P, headers: h });
    try {
      assert.equal(first.status, 200);
      assert.match(first.contentType, /^text\/event-stream/);
      const second = await request({ method: 'GET', path: P, headers: h, timeoutMs: 5000 });
      assert.equal(second.status, 409, second.describe());
    } finally {
      first.close();
    }
  });

  test('GET without Accept: text/event-stream is 406', async () => {
    const s = await session();
    const r = await request({ method: 'GET', path: P, headers: { Accept: 'application/json', 'Mcp-Session-Id': s.session, 'MCP-Protocol-Version': s.version } });
    assert.equal(r.status, 406, r.describe());
  });

  test('GET without a session is 400', async () => {
    const r = await request({ method: 'GET', path: P, headers: { Accept: 'text/event-stream' } });
    assert.equal(r.status, 400, r.describe());
  });

  test('a tool that reports progress answers on an SSE stream with ids, resumable with Last-Event-ID', async () => {
    // The conformance route's test_tool_with_progress sends notifications before its result, so
    // the POST is answered with text/event-stream.
    const s = await openSession(CONFORMANCE_PATH, { version: '2025-11-25' });
    try {
      const msg = rpc('tools/call', { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: 'e2e-progress' } });
      const first = await request({ path: CONFORMANCE_PATH, headers: mcpHeaders({ session: s.session, version: s.version }), body: msg, timeoutMs: 30000 });
      assert.equal(first.status, 200, first.describe());
      assert.ok(first.isEventStream, `expected text/event-stream, got ${first.contentType}`);
      const events = parseSse(first.text);
      const progress = jsonEvents(events).filter((m) => m.method === 'notifications/progress');
      assert.ok(progress.length >= 3, `expected >= 3 progress notifications: ${first.text}`);
      for (const p of progress) assert.equal(p.params.progressToken, 'e2e-progress');
      const withIds = events.filter((e) => e.id);
      assert.ok(withIds.length >= 2, `events need ids to be resumable: ${first.text}`);
      assert.equal(new Set(withIds.map((e) => e.id)).size, withIds.length, 'event ids must be unique');
      const final = jsonEvents(events).find((m) => m.id === msg.id);
      assert.ok(final?.result, `no result on the stream: ${first.text}`);

      // Resume after the first event that carries an id: the server replays what followed it on
      // that stream (and nothing from other streams).
      const from = withIds[0];
      const expected = jsonEvents(events.slice(events.indexOf(from) + 1));
      const resumed = await openStream({
        path: CONFORMANCE_PATH,
        headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': s.session, 'MCP-Protocol-Version': s.version, 'Last-Event-ID': from.id },
      });
      try {
        assert.equal(resumed.status, 200, `resume: ${resumed.status} ${resumed.raw}`);
        const replayed = jsonEvents(await resumed.until((e) => {
          if (!e.data.trim()) return false;
          const m = JSON.parse(e.data);
          return m.id === msg.id && ('result' in m || 'error' in m);
        }, 15000));
        assert.deepEqual(replayed, expected);
      } finally {
        resumed.close();
      }
    } finally {
      await closeSession(CONFORMANCE_PATH, s.session).catch(() => {});
    }
  });

  test('Last-Event-ID of an unknown stream is not replayed', async () => {
    const s = await session({ version: '2025-11-25' });
    const r = await request({
      method: 'GET',
      path: P,
      headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': s.session, 'MCP-Protocol-Version': s.version, 'Last-Event-ID': 'no-such-stream_5' },
      timeoutMs: 5000,
    }).catch((e) => ({ status: 'timeout', describe: () => String(e) }));
    // Either refused, or an empty stream (the request would then hang open, hence the timeout).
    assert.ok(r.status === 'timeout' || r.status >= 400, r.describe());
  });
});

describe('HTTP+SSE (2024-11-05)', () => {
  test('GET <route>/sse sends an endpoint event first; messages are answered on the stream', async () => {
    const stream = await openStream({ path: `${P}/sse`, headers: { Accept: 'text/event-stream' } });
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.contentType, /^text\/event-stream/);
      const endpoint = await stream.next(5000);
      assert.equal(endpoint.event, 'endpoint');
      const url = new URL(endpoint.data, `${ORIGIN}${P}/sse`);
      assert.equal(url.origin, ORIGIN);
      assert.ok(url.search.length > 1, `endpoint without a session parameter: ${endpoint.data}`);
      const postPath = url.pathname + url.search;

      const init = rpc('initialize', { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'e2e-sse', version: '1' } });
      const accepted = await request({ path: postPath, headers: { 'Content-Type': 'application/json' }, body: init });
      assert.equal(accepted.status, 202, accepted.describe());
      const events = await stream.until((e) => e.event === 'message' && JSON.parse(e.data).id === init.id);
      const res = JSON.parse(events.at(-1).data);
      assert.equal(res.result.protocolVersion, '2024-11-05');

      await request({ path: postPath, headers: { 'Content-Type': 'application/json' }, body: notification('notifications/initialized') });
      const echo = rpc('tools/call', { name: 'echo', arguments: { message: 'over sse' } });
      const ok = await request({ path: postPath, headers: { 'Content-Type': 'application/json' }, body: echo });
      assert.equal(ok.status, 202, ok.describe());
      const got = await stream.until((e) => e.event === 'message' && JSON.parse(e.data).id === echo.id);
      assert.equal(JSON.parse(got.at(-1).data).result.content[0].text, 'over sse');
    } finally {
      stream.close();
    }
  });

  test('POST to the messages endpoint with an unknown session is 404', async () => {
    const r = await request({ path: `${P}/messages?session_id=0123456789abcdef0123456789abcdef`, headers: { 'Content-Type': 'application/json' }, body: ping() });
    assert.equal(r.status, 404, r.describe());
  });

  test('POST to the messages endpoint without a session is 400', async () => {
    const r = await request({ path: `${P}/messages`, headers: { 'Content-Type': 'application/json' }, body: ping() });
    assert.equal(r.status, 400, r.describe());
  });

  test('a Streamable HTTP request naming a 2024-11-05 session id is 404', async () => {
    const stream = await openStream({ path: `${P}/sse`, headers: { Accept: 'text/event-stream' } });
    try {
      const endpoint = await stream.next(5000);
      const url = new URL(endpoint.data, ORIGIN);
      const id = url.searchParams.get('session_id') || url.searchParams.get('sessionId');
      assert.ok(id, endpoint.data);
      const r = await request({ path: P, headers: mcpHeaders({ session: id, version: '2025-06-18' }), body: ping() });
      assert.equal(r.status, 404, r.describe());
    } finally {
      stream.close();
    }
  });
});
