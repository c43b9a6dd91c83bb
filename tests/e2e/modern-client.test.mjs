// The TypeScript SDK v2 client (`@modelcontextprotocol/client`, which speaks the stateless
// 2026-07-28 revision) against the conformance route, with a 2025 client
// (`@modelcontextprotocol/sdk` 1.x, a Streamable HTTP session) on the same URL at the same time.
// Issue 3: the v2 client calls tools, runs a two-round MRTR tool and holds a
// `subscriptions/listen` stream while a 2025 client uses the same route.
//
// Everything here goes through the v2 client's own API: `versionNegotiation` pinned to
// 2026-07-28 (`connect()` sends `server/discover`), `callTool()` (which fulfils
// `input_required` results through the `elicitation/create` handler and retries with
// `inputResponses` and the echoed `requestState`), and `listen()` (list_changed notifications
// on the stream go to `setNotificationHandler`). A fetch wrapper handed to its transport records
// the wire, so the tests also check what was sent (MCP-REQUIREMENTS 2b and 9: `_meta`,
// `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, no session) and what came back.
// Spec: MCP-REQUIREMENTS sections 2b, 7 (items 57 MRTR, 58 subscriptions/listen) and 9.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport, SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { CONFORMANCE_URL } from './lib/env.mjs';

const MODERN = '2026-07-28';
const LEGACY = '2025-11-25';
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CAPS = 'io.modelcontextprotocol/clientCapabilities';
const META_SERVER = 'io.modelcontextprotocol/serverInfo';
const TIMEOUT = { timeout: 15000 };
const NOTIFY_MS = 10000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const textOf = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

// Messages that arrive asynchronously (notifications, handler calls), awaited with a deadline.
class Inbox {
  constructor(label) {
    this.label = label;
    this.items = [];
    this.waiters = [];
  }
  push(item) {
    this.items.push(item);
    for (const w of [...this.waiters]) w.check();
  }
  // Resolves with the first item at or after `from` that matches; rejects after `ms`.
  next(match, { from = 0, ms = NOTIFY_MS } = {}) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          const i = this.items.findIndex((x, k) => k >= from && match(x));
          if (i < 0) return;
          clearTimeout(waiter.timer);
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          resolve(this.items[i]);
        },
      };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.label}: nothing matching within ${ms} ms; got ${JSON.stringify(this.items.slice(from))}`));
      }, ms);
      this.waiters.push(waiter);
      waiter.check();
    });
  }
}

// Records every HTTP exchange of the v2 client: method, request headers, parsed JSON-RPC body,
// and for application/json replies the parsed reply (SSE replies stay untouched, they stream).
function recordingFetch(wire) {
  return async (url, init = {}) => {
    const headers = new Headers(init.headers);
    const entry = {
      method: init.method ?? 'GET',
      url: String(url),
      headers: Object.fromEntries(headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    wire.push(entry);
    const response = await fetch(url, init);
    entry.status = response.status;
    entry.contentType = response.headers.get('content-type') ?? '';
    entry.sessionHeader = response.headers.get('mcp-session-id');
    if (entry.contentType.startsWith('application/json')) entry.reply = await response.clone().json().catch(() => undefined);
    return response;
  };
}

// A form answer for whatever single field the server asks for.
function formAnswer(params, values) {
  const fields = Object.keys(params?.requestedSchema?.properties ?? {});
  const content = {};
  for (const f of fields) if (f in values) content[f] = values[f];
  return { action: 'accept', content };
}

describe('TypeScript SDK v2 client (2026-07-28) and a 2025 client on one route', () => {
  const wire = [];
  const elicitations = new Inbox('v2 elicitation/create');
  const modernListChanged = new Inbox('v2 notifications/tools/list_changed');
  let client;
  let transport;

  const calls = (method, name) => wire.filter((e) => e.body?.method === method && (name === undefined || e.body.params?.name === name));

  before(async () => {
    client = new Client({ name: 'bastion-e2e-v2', version: '1.0.0' }, {
      versionNegotiation: { mode: { pin: MODERN } },
      capabilities: { elicitation: {} },
    });
    client.setRequestHandler('elicitation/create', async (request) => {
      elicitations.push(request.params);
      return formAnswer(request.params, { name: 'Ada Lovelace', color: 'teal' });
    });
    client.setNotificationHandler('notifications/tools/list_changed', (n) => modernListChanged.push(n));
    transport = new StreamableHTTPClientTransport(new URL(CONFORMANCE_URL), { fetch: recordingFetch(wire) });
    await client.connect(transport, TIMEOUT);
  });

  after(async () => {
    await client?.close().catch(() => {});
  });

  test('connect: server/discover negotiates 2026-07-28, without a session', () => {
    assert.equal(client.getProtocolEra(), 'modern');
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    assert.equal(transport.sessionId, undefined);

    const discover = client.getDiscoverResult();
    assert.ok(discover.supportedVersions.includes(MODERN), JSON.stringify(discover));
    assert.ok(discover.supportedVersions.includes(LEGACY), 'the same route also offers the 2025 revisions');
    assert.equal(discover.capabilities.tools?.listChanged, true, JSON.stringify(discover.capabilities));
    assert.equal(typeof discover.ttlMs, 'number');
    assert.ok(['public', 'private'].includes(discover.cacheScope), discover.cacheScope);
    assert.equal(typeof discover._meta?.[META_SERVER]?.name, 'string');
    assert.deepEqual(client.getServerVersion(), discover._meta[META_SERVER]);

    const [probe] = wire;
    assert.equal(probe.method, 'POST');
    assert.equal(probe.body.method, 'server/discover');
    assert.equal(probe.headers['mcp-protocol-version'], MODERN);
    assert.equal(probe.headers['mcp-method'], 'server/discover');
    assert.equal(probe.body.params._meta[META_VERSION], MODERN);
    assert.deepEqual(probe.body.params._meta[META_CAPS], { elicitation: {} });
    assert.equal(probe.status, 200);
    assert.equal(probe.sessionHeader, null, 'a 2026-07-28 exchange gets no Mcp-Session-Id');
    assert.equal(probe.reply.result.resultType, 'complete');
  });

  test('tools/list: the conformance fixtures, with object input schemas', async () => {
    const { tools } = await client.listTools({}, TIMEOUT);
    const names = tools.map((t) => t.name);
    for (const expected of ['test_simple_text', 'test_input_required_result_elicitation',
      'test_input_required_result_multi_round', 'test_trigger_tool_change']) {
      assert.ok(names.includes(expected), `missing ${expected} in ${names}`);
    }
    for (const t of tools) assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema`);

    const sent = calls('tools/list').at(-1);
    assert.equal(sent.headers['mcp-method'], 'tools/list');
    assert.equal(sent.body.params._meta[META_VERSION], MODERN);
    assert.equal(sent.reply.result.resultType, 'complete');
    assert.deepEqual(sent.reply.result.tools.map((t) => t.name), names);
  });

  test('tools/call test_simple_text', async () => {
    const result = await client.callTool({ name: 'test_simple_text' }, TIMEOUT);
    assert.notEqual(result.isError, true);
    assert.equal(textOf(result), 'This is a simple text response for testing.');

    const sent = calls('tools/call', 'test_simple_text').at(-1);
    assert.equal(sent.headers['mcp-protocol-version'], MODERN);
    assert.equal(sent.headers['mcp-method'], 'tools/call');
    assert.equal(sent.headers['mcp-name'], 'test_simple_text');
    assert.deepEqual(sent.body.params._meta[META_CAPS], { elicitation: {} });
    assert.equal(sent.reply.result.resultType, 'complete');
    assert.equal(typeof sent.reply.result._meta?.[META_SERVER]?.name, 'string');
  });

  test('MRTR, one round: test_input_required_result_elicitation', async () => {
    const asked = elicitations.items.length;
    const result = await client.callTool({ name: 'test_input_required_result_elicitation' }, TIMEOUT);
    assert.notEqual(result.isError, true, textOf(result));
    assert.equal(textOf(result), 'Hello, Ada Lovelace!');

    const question = await elicitations.next(() => true, { from: asked, ms: 0 });
    assert.equal(question.message, 'What is your name?');
    assert.equal(elicitations.items.length, asked + 1);

    const [first, retry] = calls('tools/call', 'test_input_required_result_elicitation');
    assert.equal(first.reply.result.resultType, 'input_required');
    assert.equal(first.reply.result.inputRequests.user_name.method, 'elicitation/create');
    assert.notEqual(retry.body.id, first.body.id, 'the retry uses a new id');
    assert.deepEqual(retry.body.params.inputResponses, { user_name: { action: 'accept', content: { name: 'Ada Lovelace' } } });
    assert.equal(retry.reply.result.resultType, 'complete');
  });

  test('MRTR, two rounds: test_input_required_result_multi_round', async () => {
    const asked = elicitations.items.length;
    const result = await client.callTool({ name: 'test_input_required_result_multi_round' }, TIMEOUT);
    assert.notEqual(result.isError, true, textOf(result));
    assert.equal(textOf(result), "Ada Lovelace's favorite color is teal.");

    assert.deepEqual(elicitations.items.slice(asked).map((q) => q.message),
      ['Step 1: What is your name?', 'Step 2: What is your favorite color?']);

    const rounds = calls('tools/call', 'test_input_required_result_multi_round');
    assert.equal(rounds.length, 3, 'the call, then one retry per round');
    assert.equal(new Set(rounds.map((r) => r.body.id)).size, 3, 'each round has its own id');
    for (const r of rounds) assert.equal(r.headers['mcp-name'], 'test_input_required_result_multi_round');

    const [one, two, three] = rounds;
    assert.equal(one.reply.result.resultType, 'input_required');
    assert.deepEqual(Object.keys(one.reply.result.inputRequests), ['step1']);
    assert.equal(typeof one.reply.result.requestState, 'string');
    assert.equal(two.body.params.requestState, one.reply.result.requestState, 'round 2 echoes the state of round 1');
    assert.deepEqual(two.body.params.inputResponses, { step1: { action: 'accept', content: { name: 'Ada Lovelace' } } });
    assert.equal(two.reply.result.resultType, 'input_required');
    assert.deepEqual(Object.keys(two.reply.result.inputRequests), ['step2']);
    assert.notEqual(two.reply.result.requestState, one.reply.result.requestState, 'a new state for round 2');
    assert.equal(three.body.params.requestState, two.reply.result.requestState);
    assert.deepEqual(three.body.params.inputResponses, { step2: { action: 'accept', content: { color: 'teal' } } });
    assert.equal(three.reply.result.resultType, 'complete');
  });

  test('subscriptions/listen held open while a 2025 client uses the same route', async () => {
    // 1. The v2 client opens the stream; listen() resolves on notifications/subscriptions/acknowledged.
    const subscription = await client.listen({ toolsListChanged: true }, TIMEOUT);
    assert.equal(subscription.honoredFilter.toolsListChanged, true, JSON.stringify(subscription.honoredFilter));
    const listen = calls('subscriptions/listen').at(-1);
    assert.equal(listen.headers['mcp-method'], 'subscriptions/listen');
    assert.equal(listen.status, 200);
    assert.match(listen.contentType, /^text\/event-stream/);
    const subscriptionId = listen.body.id;

    // 2. While it is open, a 2025 client initializes a session on the same URL and calls tools,
    //    one of them the same MRTR tool, which on a session asks through elicitation/create on
    //    the request's stream; at the same time the v2 client keeps calling tools.
    const legacyElicitations = new Inbox('2025 elicitation/create');
    const legacyListChanged = new Inbox('2025 notifications/tools/list_changed');
    const legacy = new LegacyClient({ name: 'bastion-e2e-2025', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    legacy.setRequestHandler(ElicitRequestSchema, async (request) => {
      legacyElicitations.push(request.params);
      return formAnswer(request.params, { name: 'Grace Hopper' });
    });
    legacy.setNotificationHandler(ToolListChangedNotificationSchema, (n) => legacyListChanged.push(n));
    const legacyTransport = new LegacyTransport(new URL(CONFORMANCE_URL));
    try {
      const legacyFlow = async () => {
        await legacy.connect(legacyTransport, TIMEOUT);
        assert.equal(typeof legacyTransport.sessionId, 'string');
        assert.ok(legacyTransport.sessionId.length > 0);
        assert.equal(legacyTransport.protocolVersion, LEGACY);
        const simple = await legacy.callTool({ name: 'test_simple_text', arguments: {} }, undefined, TIMEOUT);
        assert.equal(textOf(simple), 'This is a simple text response for testing.');
        const greeted = await legacy.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }, undefined, TIMEOUT);
        assert.equal(textOf(greeted), 'Hello, Grace Hopper!');
        assert.equal(legacyElicitations.items.length, 1);
        assert.equal(legacyElicitations.items[0].message, 'What is your name?');
      };
      const modernFlow = async () => {
        const results = await Promise.all([1, 2, 3].map(() => client.callTool({ name: 'test_simple_text' }, TIMEOUT)));
        for (const r of results) assert.equal(textOf(r), 'This is a simple text response for testing.');
      };
      await Promise.all([legacyFlow(), modernFlow()]);

      // 3. A change to the route's tool list reaches the listen stream, tagged with the
      //    subscription id (the listen request's id), and the 2025 session as well.
      const listNames = async () => (await client.listTools({}, { ...TIMEOUT, cacheMode: 'bypass' })).tools.map((t) => t.name);
      const before = await listNames();
      const hadDynamic = before.includes('test_dynamic_tool');
      for (let round = 0; round < 2; round++) {  // twice, so that the list ends as it began
        const seenModern = modernListChanged.items.length;
        const seenLegacy = legacyListChanged.items.length;
        const trigger = await client.callTool({ name: 'test_trigger_tool_change' }, TIMEOUT);
        const present = hadDynamic === (round === 1);
        assert.match(textOf(trigger), present ? /^Added test_dynamic_tool/ : /^Removed test_dynamic_tool/);

        const note = await modernListChanged.next(() => true, { from: seenModern });
        assert.equal(note.method, 'notifications/tools/list_changed');
        assert.equal(note.params?._meta?.[SUBSCRIPTION_ID_META_KEY], subscriptionId, JSON.stringify(note));
        await legacyListChanged.next(() => true, { from: seenLegacy });

        assert.equal((await listNames()).includes('test_dynamic_tool'), present);
        const { tools: legacyTools } = await legacy.listTools({}, TIMEOUT);
        assert.equal(legacyTools.some((t) => t.name === 'test_dynamic_tool'), present, 'both eras see one tool list');
      }
      assert.deepEqual(await listNames(), before);
    } finally {
      if (legacyTransport.sessionId) await legacyTransport.terminateSession().catch(() => {});
      await legacy.close().catch(() => {});
    }

    // 4. The stream was held throughout; closing it ends the subscription locally.
    let timer;
    const closed = await Promise.race([
      (subscription.close(), subscription.closed),
      new Promise((resolve) => { timer = setTimeout(() => resolve('still open after 10 s'), NOTIFY_MS); }),
    ]);
    clearTimeout(timer);
    assert.equal(closed, 'local');
    // close() also posts notifications/cancelled for the listen id, without waiting for it.
    const cancel = calls('notifications/cancelled').at(-1);
    assert.equal(cancel?.body.params.requestId, subscriptionId);
    for (let i = 0; i < 100 && cancel.status === undefined; i++) await sleep(50);
    assert.equal(cancel.status, 202, 'a notification is accepted with 202');
  });

  test('the v2 client kept to the 2026-07-28 wire throughout', () => {
    assert.ok(wire.length >= 10, `only ${wire.length} exchanges recorded`);
    for (const e of wire) {
      const what = `${e.method} ${e.body?.method}`;
      assert.equal(e.method, 'POST', `${what}: no GET stream and no DELETE on 2026-07-28`);
      assert.equal(e.headers['mcp-session-id'], undefined, `${what}: no session id`);
      assert.equal(e.headers['mcp-protocol-version'], MODERN, what);
      assert.equal(e.sessionHeader, null, `${what}: the server minted no session`);
      if (!('id' in e.body)) continue;  // notifications/cancelled when the subscription closed
      assert.equal(e.headers['mcp-method'], e.body.method, what);
      assert.equal(e.body.params._meta[META_VERSION], MODERN, what);
      assert.ok(e.body.params._meta[META_CAPS], `${what}: clientCapabilities in _meta`);
      if (e.body.method === 'tools/call') assert.equal(e.headers['mcp-name'], e.body.params.name, what);
      assert.ok(e.status === 200, `${what}: HTTP ${e.status}`);
    }
  });
});

describe('TypeScript SDK v2 client with automatic version negotiation', () => {
  test("mode 'auto' finds the 2026-07-28 revision on the same URL", async () => {
    const auto = new Client({ name: 'bastion-e2e-v2-auto', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    try {
      await auto.connect(new StreamableHTTPClientTransport(new URL(CONFORMANCE_URL)), TIMEOUT);
      assert.equal(auto.getProtocolEra(), 'modern');
      assert.equal(auto.getNegotiatedProtocolVersion(), MODERN);
      const result = await auto.callTool({ name: 'test_simple_text' }, TIMEOUT);
      assert.equal(textOf(result), 'This is a simple text response for testing.');
    } finally {
      await auto.close().catch(() => {});
    }
  });
});
