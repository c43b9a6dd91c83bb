// The official TypeScript SDK client against the demo route, over each transport a real client
// uses: Streamable HTTP, the deprecated HTTP+SSE (2024-11-05), and stdio (`bastion stdio`).
// Every test asserts on the content returned, not only on success.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { DEMO_URL, DEMO_PATH, BASTION_BIN, CONFIG_FILE, SEARCH_MARKER } from './lib/env.mjs';

const transports = {
  'Streamable HTTP': () => new StreamableHTTPClientTransport(new URL(DEMO_URL)),
  'HTTP+SSE (2024-11-05)': () => new SSEClientTransport(new URL(`${DEMO_URL}/sse`)),
  stdio: () => new StdioClientTransport({
    command: BASTION_BIN,
    args: ['stdio', ...(CONFIG_FILE ? ['--config', CONFIG_FILE, '--route', DEMO_PATH] : [])],
    stderr: 'pipe',
  }),
};

const textOf = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const TIMEOUT = { timeout: 15000 };

for (const [name, makeTransport] of Object.entries(transports)) {
  describe(`TypeScript SDK client over ${name}`, () => {
    let client;
    let transport;
    let stderr = '';

    before(async () => {
      client = new Client({ name: 'bastion-e2e-sdk', version: '1.0.0' });
      transport = makeTransport();
      if (transport instanceof StdioClientTransport) transport.stderr?.on('data', (d) => { stderr += d; });
      await client.connect(transport, TIMEOUT);
    });

    after(async () => {
      if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
        await transport.terminateSession().catch(() => {});  // DELETE /mcp
      }
      await client?.close().catch(() => {});
      if (stderr && process.env.E2E_VERBOSE) console.log(`bastion stdio stderr:\n${stderr}`);
    });

    test('initialize: server info and capabilities', () => {
      const info = client.getServerVersion();
      assert.equal(typeof info?.name, 'string');
      assert.match(info.version, /^\d+\.\d+\.\d+/);
      const caps = client.getServerCapabilities();
      assert.ok(caps.tools, 'tools capability');
      assert.ok(caps.resources, 'resources capability');
      assert.ok(caps.prompts, 'prompts capability');
      assert.ok(caps.completions, 'completions capability');
    });

    test('ping', async () => {
      assert.deepEqual(await client.ping(TIMEOUT), {});
    });

    test('tools/list: the demo tools, each described, with object input schemas', async () => {
      const { tools } = await client.listTools({}, TIMEOUT);
      const names = tools.map((t) => t.name);
      for (const expected of ['echo', 'current_time', 'calculate', 'search_text']) {
        assert.ok(names.includes(expected), `missing ${expected} in ${names}`);
      }
      for (const t of tools) {
        assert.ok(t.description && t.description.length > 10, `${t.name} needs a description`);
        assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema`);
      }
      // Deterministic order (MCP-REQUIREMENTS item 42): a second listing is identical.
      const again = await client.listTools({}, TIMEOUT);
      assert.deepEqual(again.tools.map((t) => t.name), names);
    });

    test('tools/call echo returns the message unchanged', async () => {
      const message = `hello from ${name} \u00e9\u4e2d\ud83d\ude80 "quotes" \\ backslash`;
      const result = await client.callTool({ name: 'echo', arguments: { message } }, undefined, TIMEOUT);
      assert.notEqual(result.isError, true);
      assert.equal(textOf(result), message);
    });

    test('tools/call calculate evaluates exactly', async () => {
      const result = await client.callTool({ name: 'calculate', arguments: { expression: '2^10 / (3 - 1)' } }, undefined, TIMEOUT);
      assert.notEqual(result.isError, true, textOf(result));
      assert.equal(result.structuredContent.result, 512);
      assert.equal(result.structuredContent.result_text, '512');
      assert.match(textOf(result), /512/);
      const mixed = await client.callTool({ name: 'calculate', arguments: { expression: '(1.5 + 2) * 3^2 % 7' } }, undefined, TIMEOUT);
      assert.equal(mixed.structuredContent.result, (3.5 * 9) % 7);
    });

    test('tools/call calculate reports division by zero as a tool error', async () => {
      const result = await client.callTool({ name: 'calculate', arguments: { expression: '1 / 0' } }, undefined, TIMEOUT);
      assert.equal(result.isError, true);
      assert.match(textOf(result), /zero/i);
    });

    test('tools/call current_time in UTC is now', async () => {
      const result = await client.callTool({ name: 'current_time', arguments: {} }, undefined, TIMEOUT);
      assert.notEqual(result.isError, true, textOf(result));
      const s = result.structuredContent;
      assert.equal(s.timezone, 'UTC');
      assert.equal(s.utc_offset.replace('Z', '+00:00'), '+00:00');
      const now = Date.now() / 1000;
      assert.ok(Math.abs(s.unix_seconds - now) < 120, `unix_seconds ${s.unix_seconds} vs now ${now}`);
      assert.ok(Math.abs(Date.parse(s.utc_time) / 1000 - now) < 120, `utc_time ${s.utc_time}`);
    });

    test('tools/call current_time in Asia/Tokyo is UTC+09:00', async () => {
      const result = await client.callTool({ name: 'current_time', arguments: { timezone: 'Asia/Tokyo' } }, undefined, TIMEOUT);
      assert.notEqual(result.isError, true, textOf(result));
      assert.equal(result.structuredContent.timezone, 'Asia/Tokyo');
      assert.equal(result.structuredContent.utc_offset, '+09:00');
      assert.equal(result.structuredContent.is_dst, false);
    });

    test('tools/call current_time with an unknown zone is a tool error', async () => {
      const result = await client.callTool({ name: 'current_time', arguments: { timezone: 'Mars/Olympus_Mons' } }, undefined, TIMEOUT);
      assert.equal(result.isError, true);
    });

    test('tools/call search_text finds the fixture line', async () => {
      const result = await client.callTool({ name: 'search_text', arguments: { query: SEARCH_MARKER } }, undefined, TIMEOUT);
      assert.notEqual(result.isError, true, textOf(result));
      const { matches } = result.structuredContent;
      assert.equal(matches.length, 1, JSON.stringify(result.structuredContent));
      assert.equal(matches[0].path, 'notes/plan.md');
      assert.equal(matches[0].line, 3);
      assert.match(matches[0].text, new RegExp(SEARCH_MARKER));
      assert.match(textOf(result), /notes\/plan\.md:3:/);
    });

    test('tools/call with arguments that break the input schema is refused', async () => {
      let outcome;
      try {
        outcome = await client.callTool({ name: 'echo', arguments: { message: 42, extra: true } }, undefined, TIMEOUT);
      } catch (e) {
        outcome = e;
      }
      // Either a JSON-RPC -32602 error or an isError result (2025-11-25 prefers the latter).
      if (outcome instanceof Error) assert.match(String(outcome.code ?? outcome.message), /-32602|invalid/i);
      else assert.equal(outcome.isError, true);
    });

    test('tools/call of an unknown tool is refused', async () => {
      let outcome;
      try {
        outcome = await client.callTool({ name: 'no_such_tool', arguments: {} }, undefined, TIMEOUT);
      } catch (e) {
        outcome = e;
      }
      if (outcome instanceof Error) assert.match(String(outcome.code ?? outcome.message), /-32602|-32601|unknown|not found/i);
      else assert.equal(outcome.isError, true);
    });

    test('resources/list and resources/read demo://about', async () => {
      const { resources } = await client.listResources({}, TIMEOUT);
      const about = resources.find((r) => r.uri === 'demo://about');
      assert.ok(about, `demo://about missing from ${JSON.stringify(resources)}`);
      assert.equal(about.mimeType, 'text/markdown');
      const { contents } = await client.readResource({ uri: 'demo://about' }, TIMEOUT);
      assert.equal(contents.length, 1);
      assert.equal(contents[0].uri, 'demo://about');
      assert.equal(contents[0].mimeType, 'text/markdown');
      assert.match(contents[0].text, /echo/);
      assert.match(contents[0].text, /calculate/);
    });

    test('resources/read of an unknown resource is an error', async () => {
      await assert.rejects(client.readResource({ uri: 'demo://no-such-resource' }, TIMEOUT));
    });

    test('prompts/list and prompts/get summarize', async () => {
      const { prompts } = await client.listPrompts({}, TIMEOUT);
      const summarize = prompts.find((p) => p.name === 'summarize');
      assert.ok(summarize, JSON.stringify(prompts));
      assert.ok(summarize.description);
      assert.deepEqual(summarize.arguments.map((a) => [a.name, Boolean(a.required)]), [['text', true], ['style', false]]);
      const got = await client.getPrompt({ name: 'summarize', arguments: { text: 'The cat sat on the mat.', style: 'one-sentence' } }, TIMEOUT);
      assert.equal(got.messages.length, 1);
      assert.equal(got.messages[0].role, 'user');
      assert.equal(got.messages[0].content.type, 'text');
      assert.match(got.messages[0].content.text, /The cat sat on the mat\./);
      assert.match(got.messages[0].content.text, /single sentence/);
    });

    test('prompts/get without a required argument is an error', async () => {
      await assert.rejects(client.getPrompt({ name: 'summarize', arguments: {} }, TIMEOUT));
    });

    test('completion/complete offers the styles that match the prefix', async () => {
      const { completion } = await client.complete({
        ref: { type: 'ref/prompt', name: 'summarize' },
        argument: { name: 'style', value: 'one' },
      }, TIMEOUT);
      assert.deepEqual([...completion.values].sort(), ['one-paragraph', 'one-sentence']);
      const none = await client.complete({ ref: { type: 'ref/prompt', name: 'summarize' }, argument: { name: 'style', value: 'zzz' } }, TIMEOUT);
      assert.deepEqual(none.completion.values, []);
    });

    test('logging/setLevel', async () => {
      if (!client.getServerCapabilities().logging) return;  // optional capability
      assert.deepEqual(await client.setLoggingLevel('warning', TIMEOUT), {});
    });
  });
}
