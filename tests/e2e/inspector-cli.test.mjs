// MCP Inspector CLI (@modelcontextprotocol/inspector-cli, `--cli` mode) against the demo route,
// as a person would run it: one process per method, JSON on stdout.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run, describeRun } from './lib/proc.mjs';
import { E2E_DIR, DEMO_URL, DEMO_PATH, BASTION_BIN, CONFIG_FILE, NODE22, ARTIFACTS_DIR } from './lib/env.mjs';

const PKG = path.join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'inspector-cli');

// cli.js spawns `node` from PATH (so Node 22 goes first) and the CLI reads its own
// package.json as "../package.json" from the working directory (so it runs in build/).
async function inspector(args, timeoutMs = 30000) {
  const env = { ...process.env, PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}` };
  const r = await run(NODE22, [path.join(PKG, 'build', 'cli.js'), '--cli', ...args], { cwd: path.join(PKG, 'build'), env, timeoutMs });
  assert.equal(r.code, 0, describeRun(r));
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`inspector output is not JSON: ${describeRun(r)}`);
  }
}

const http = (...args) => inspector([DEMO_URL, '--transport', 'http', ...args]);

describe('MCP Inspector CLI over Streamable HTTP', () => {
  test('tools/list', async () => {
    const out = await http('--method', 'tools/list');
    const names = out.tools.map((t) => t.name);
    for (const n of ['echo', 'current_time', 'calculate']) assert.ok(names.includes(n), `${n} missing: ${names}`);
    const echo = out.tools.find((t) => t.name === 'echo');
    assert.deepEqual(echo.inputSchema.required, ['message']);
  });

  test('tools/call echo message=hi', async () => {
    const out = await http('--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=hi');
    assert.notEqual(out.isError, true);
    assert.deepEqual(out.content, [{ type: 'text', text: 'hi' }]);
  });

  test('tools/call calculate expression=6*7', async () => {
    const out = await http('--method', 'tools/call', '--tool-name', 'calculate', '--tool-arg', 'expression=6*7');
    assert.equal(out.structuredContent.result, 42);
  });

  test('resources/list and resources/read demo://about', async () => {
    const list = await http('--method', 'resources/list');
    assert.ok(list.resources.some((r) => r.uri === 'demo://about'), JSON.stringify(list));
    const out = await http('--method', 'resources/read', '--uri', 'demo://about');
    assert.equal(out.contents[0].uri, 'demo://about');
    assert.equal(out.contents[0].mimeType, 'text/markdown');
    assert.match(out.contents[0].text, /echo/);
  });

  test('prompts/list and prompts/get summarize', async () => {
    const list = await http('--method', 'prompts/list');
    assert.ok(list.prompts.some((p) => p.name === 'summarize'), JSON.stringify(list));
    const out = await http('--method', 'prompts/get', '--prompt-name', 'summarize', '--prompt-args', 'text=Inspector was here', 'style=bullet-points');
    assert.equal(out.messages[0].role, 'user');
    assert.match(out.messages[0].content.text, /Inspector was here/);
    assert.match(out.messages[0].content.text, /bullet points/);
  });

  test('logging/setLevel', async () => {
    const out = await http('--method', 'logging/setLevel', '--log-level', 'debug');
    assert.deepEqual(out, {});
  });

  test('an unknown tool makes the CLI fail or report an error', async () => {
    const env = { ...process.env, PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}` };
    const r = await run(NODE22, [path.join(PKG, 'build', 'cli.js'), '--cli', DEMO_URL, '--transport', 'http', '--method', 'tools/call', '--tool-name', 'no_such_tool'],
      { cwd: path.join(PKG, 'build'), env, timeoutMs: 30000 });
    if (r.code === 0) assert.equal(JSON.parse(r.stdout).isError, true, describeRun(r));
    else assert.match(r.stdout + r.stderr, /no_such_tool|not found|unknown|-32602/i);
  });
});

describe('MCP Inspector CLI over HTTP+SSE (2024-11-05)', () => {
  test('tools/call echo', async () => {
    const out = await inspector([`${DEMO_URL}/sse`, '--transport', 'sse', '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=via sse']);
    assert.deepEqual(out.content, [{ type: 'text', text: 'via sse' }]);
  });
});

describe('MCP Inspector CLI over stdio', () => {
  test('tools/call echo through `bastion stdio`', async () => {
    // A server with arguments is given to the CLI as a config file (mcpServers), as in an IDE.
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const servers = path.join(ARTIFACTS_DIR, 'inspector-servers.json');
    fs.writeFileSync(servers, JSON.stringify({
      mcpServers: {
        bastion: {
          type: 'stdio',
          command: BASTION_BIN,
          args: ['stdio', ...(CONFIG_FILE ? ['--config', CONFIG_FILE, '--route', DEMO_PATH] : [])],
        },
      },
    }, null, 2));
    const out = await inspector(['--config', servers, '--server', 'bastion', '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=via stdio']);
    assert.deepEqual(out.content, [{ type: 'text', text: 'via stdio' }]);
  });
});
