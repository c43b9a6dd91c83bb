// The peer baseline for bench/run.sh: the official TypeScript SDK server (McpServer +
// StreamableHTTPServerTransport on express, one transport per session, as in the SDK's README)
// serving the same `echo` tool as Bastion's demo module.
//
//   node bench/ts-baseline/server.mjs [--port N] [--port-file PATH] [--sse]
//
// Runs with the pinned Node 22 and the pinned packages of tests/e2e (one lockfile for all npm
// code). Answers with application/json like Bastion does for a tool that sends no notifications;
// --sse keeps the SDK's default (every answer on an SSE stream) instead.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';

const require = createRequire(new URL('../../tests/e2e/package.json', import.meta.url));
const express = require('express');
const { z } = require('zod');
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { isInitializeRequest } = require('@modelcontextprotocol/sdk/types.js');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const port = Number(opt('--port', '0'));
const portFile = opt('--port-file', '');
const jsonResponse = !args.includes('--sse');

function buildServer() {
  const server = new McpServer({ name: 'ts-sdk-baseline', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Returns the given message unchanged.',
      inputSchema: { message: z.string().describe('The text to send back.') },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );
  return server;
}

const transports = new Map();
const app = express();
app.use(express.json({ limit: '4mb' }));

app.post('/mcp', async (req, res) => {
  const id = req.headers['mcp-session-id'];
  let transport = id ? transports.get(id) : undefined;
  if (!transport) {
    if (id || !isInitializeRequest(req.body)) {
      res.status(id ? 404 : 400).json({ jsonrpc: '2.0', error: { code: id ? -32001 : -32000, message: 'No valid session' }, id: null });
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: jsonResponse,
      onsessioninitialized: (sid) => transports.set(sid, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    await buildServer().connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
});

const bySession = async (req, res) => {
  const transport = transports.get(req.headers['mcp-session-id']);
  if (!transport) {
    res.status(404).end();
    return;
  }
  await transport.handleRequest(req, res);
};
app.get('/mcp', bySession);
app.delete('/mcp', bySession);

const listener = app.listen(port, '127.0.0.1', () => {
  const bound = listener.address().port;
  if (portFile) {
    fs.writeFileSync(`${portFile}.tmp`, `${bound}\n`);
    fs.renameSync(`${portFile}.tmp`, portFile);
  }
  console.log(`ts-sdk-baseline serving MCP at http://127.0.0.1:${bound}/mcp (${jsonResponse ? 'JSON' : 'SSE'} responses)`);
});
listener.keepAliveTimeout = 65000;

const stop = () => {
  for (const t of transports.values()) t.close().catch(() => {});
  listener.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
