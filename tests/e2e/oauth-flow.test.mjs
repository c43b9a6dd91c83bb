// The whole login of a real MCP client, end to end: the official TypeScript SDK client (its
// Client, StreamableHTTPClientTransport and OAuth client functions) starts without a token
// against a route protected by Bastion's embedded authorization server, follows the 401 to the
// protected-resource metadata (RFC 9728) and the authorization server metadata (RFC 8414),
// registers (once by Dynamic Client Registration, once with a Client ID Metadata Document served
// over HTTPS on loopback), sends the person to the authorization URL (headless Chromium signs in
// and approves), exchanges the code, calls a tool, refreshes its token, and steps up after a 403
// insufficient_scope. The resource server trusts the embedded server only through its metadata
// and JWKS, as it would an external one.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startBastion } from './lib/bastion.mjs';
import { BrowserOAuthProvider } from './lib/oauth-provider.mjs';
import { startMetadataDocumentServer } from './lib/cimd-server.mjs';
import { browserSignIn } from './lib/browser-login.mjs';
import { run, describeRun } from './lib/proc.mjs';
import { spawn } from 'node:child_process';
import { ARTIFACTS_DIR, REPO_ROOT } from './lib/env.mjs';
import { metricSum } from './lib/metrics.mjs';

const SHOTS = path.join(ARTIFACTS_DIR, 'oauth-flow-screenshots');
const textOf = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

let bastion;
let documents;
let password;
let workDir;
let adminPort;
let auditFile;
const seenTokens = [];
const REDIRECT = 'http://127.0.0.1:9/oauth-flow-callback';

// The SDK's OAuthClientProvider with headless Chromium as the person (lib/oauth-provider.mjs),
// plus what this test looks at: the authorization URLs the SDK built, how often it registered,
// and a switch that hides the refresh token so that the SDK authorizes anew (a refresh cannot
// widen scopes, RFC 6749 §6: that is how a client steps up).
class FlowProvider extends BrowserOAuthProvider {
  constructor({ name, clientMetadataUrl, clientName }) {
    super({ username: 'admin', password, artifactsDir: SHOTS, name, redirectUrl: REDIRECT, clientMetadata: { client_name: clientName } });
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this.authorizationUrls = [];
    this.registrations = 0;
    this.forceNewAuthorization = false;
  }
  saveClientInformation(info) {
    this.registrations++;
    super.saveClientInformation(info);
  }
  tokens() {
    const tokens = super.tokens();
    if (!tokens || !this.forceNewAuthorization) return tokens;
    const { refresh_token: _hidden, ...rest } = tokens;
    return rest;
  }
  rawTokens() { return super.tokens(); }
  saveTokens(tokens) {
    seenTokens.push(tokens.access_token, tokens.refresh_token);
    super.saveTokens(tokens);
  }
  async redirectToAuthorization(url) {
    this.authorizationUrls.push(new URL(url));
    await super.redirectToAuthorization(url);
    assert.equal(this.lastSignIn.params.iss, bastion.origin, 'RFC 9207: iss in the authorization response');
  }
}

// Connects an SDK client, doing the interactive login when the SDK asks for it.
async function connect(provider, name) {
  const url = new URL(bastion.url('/mcp'));
  let transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  let client = new Client({ name: `oauth-flow-${name}`, version: '1.0.0' });
  try {
    await client.connect(transport);
    return { client, transport };
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  assert.ok(provider.authorizationCode, 'the browser brought back no code');
  await transport.finishAuth(provider.authorizationCode);
  transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  client = new Client({ name: `oauth-flow-${name}`, version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

before(async () => {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  workDir = fs.mkdtempSync(path.join(ARTIFACTS_DIR, 'oauth-flow-'));
  documents = await startMetadataDocumentServer({
    dir: workDir,
    documents: {
      '/oauth-client.json': (self) => ({
        client_id: self,
        client_name: 'Bastion e2e CIMD client',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    },
  });
  // The demo route takes the embedded server's tokens with scope "mcp"; `calculate` needs
  // "mcp:calc" as well (the step-up).
  auditFile = path.join(workDir, 'audit.jsonl');
  const adminPortFile = path.join(workDir, 'admin-port');
  const yaml = `server:
  name: bastion-oauth-flow
audit:
  enabled: true
  sink: file
  path: ${JSON.stringify(auditFile)}
admin:
  enabled: true
  port: 0
listeners:
  - address: 127.0.0.1
    port: 0
authorization_server:
  data_dir: ":memory:"
  scopes: [mcp, "mcp:calc"]
  cimd:
    allow_loopback: true
    ca_file: ${JSON.stringify(documents.caFile)}
routes:
  - path: /mcp
    modules: [demo]
    auth:
      issuers: [embedded]
      scopes: [mcp]
      tool_scopes: {"calculate": ["mcp:calc"]}
`;
  bastion = await startBastion({ name: 'oauth-flow', yaml, args: ['--admin-port-file', adminPortFile] });
  adminPort = Number(fs.readFileSync(adminPortFile, 'utf8').trim());
  const deadline = Date.now() + 10_000;
  let m = null;
  while (!m && Date.now() < deadline) {
    m = bastion.output().match(/created the user 'admin' with the password '([^']+)'/);
    if (!m) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(m, `no first-start admin password on the console:\n${bastion.output().slice(-2000)}`);
  password = m[1];
});

after(async () => {
  await documents?.close();
  const state = await bastion?.stop();
  assert.equal(state?.code, 0, `bastion did not stop cleanly: ${JSON.stringify(state)}`);
});

describe('an MCP client logs in through the embedded authorization server', () => {
  test('Dynamic Client Registration: 401 -> metadata -> register -> sign in -> code -> tools -> refresh', async () => {
    const provider = new FlowProvider({ name: 'dcr', clientName: 'Bastion e2e DCR client' });
    const { client, transport } = await connect(provider, 'dcr');
    assert.equal(provider.registrations, 1, 'registered once, by DCR');
    assert.ok(!provider.clientInformation().client_id.startsWith('https://'));
    const url = provider.authorizationUrls[0];
    assert.equal(url.origin + url.pathname, `${bastion.origin}/oauth/authorize`);
    assert.equal(url.searchParams.get('resource'), bastion.url('/mcp'), 'RFC 8707 resource = the PRM resource');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('scope'), 'mcp', 'the scope from the 401 challenge');

    const first = provider.rawTokens();
    const claims = claimsOf(first.access_token);
    assert.equal(claims.iss, bastion.origin);
    assert.equal(claims.aud, bastion.url('/mcp'));
    assert.equal(claims.sub, 'admin');
    assert.equal(claims.scope, 'mcp');

    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'signed in' } });
    assert.match(textOf(echoed), /signed in/);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(tools.includes('echo'));
    assert.ok(!tools.includes('calculate'), 'tools/list shows only what the token may call');

    // Refresh (the SDK's auth() refreshes when it holds a refresh token): a new access token and
    // a rotated refresh token, and the client keeps working with them.
    assert.equal(await auth(provider, { serverUrl: new URL(bastion.url('/mcp')) }), 'AUTHORIZED');
    const second = provider.rawTokens();
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    const client2 = new Client({ name: 'oauth-flow-refreshed', version: '1.0.0' });
    const transport2 = new StreamableHTTPClientTransport(new URL(bastion.url('/mcp')), { authProvider: provider });
    await client2.connect(transport2);
    assert.match(textOf(await client2.callTool({ name: 'echo', arguments: { message: 'refreshed' } })), /refreshed/);

    // The old refresh token is spent: reusing it is refused and revokes the family (RFC 9700
    // §4.14.2), so the newest one stops working too.
    const metadata = await (await fetch(`${bastion.origin}/.well-known/oauth-authorization-server`)).json();
    const reuse = async (token) => fetch(metadata.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: provider.clientInformation().client_id }),
    });
    const replay = await reuse(first.refresh_token);
    assert.equal(replay.status, 400);
    assert.equal((await replay.json()).error, 'invalid_grant');
    const newest = await reuse(second.refresh_token);
    assert.equal(newest.status, 400);
    assert.equal((await newest.json()).error, 'invalid_grant');

    await transport2.terminateSession().catch(() => {});
    await client2.close();
    await transport.terminateSession().catch(() => {});
    await client.close();
  });

  test('Client ID Metadata Document: the client id is an HTTPS URL the server fetches', async () => {
    const provider = new FlowProvider({ name: 'cimd', clientMetadataUrl: documents.url('/oauth-client.json') });
    const before = documents.hits['/oauth-client.json'] || 0;
    const { client, transport } = await connect(provider, 'cimd');
    assert.equal(provider.clientInformation().client_id, documents.url('/oauth-client.json'));
    assert.ok((documents.hits['/oauth-client.json'] || 0) > before, 'the server fetched the document');
    assert.equal(claimsOf(provider.rawTokens().access_token).client_id, documents.url('/oauth-client.json'));
    assert.match(textOf(await client.callTool({ name: 'echo', arguments: { message: 'cimd' } })), /cimd/);
    await transport.terminateSession().catch(() => {});
    await client.close();
  });

  test('step-up: a 403 insufficient_scope leads to a new authorization with the wider scope', async () => {
    const provider = new FlowProvider({ name: 'step-up', clientName: 'Bastion e2e step-up client' });
    const { client, transport } = await connect(provider, 'step-up-first');
    assert.equal(claimsOf(provider.rawTokens().access_token).scope, 'mcp');

    // A refresh cannot widen scopes (RFC 6749 §6): the client authorizes again instead.
    provider.forceNewAuthorization = true;
    const asked = provider.authorizationUrls.length;
    await assert.rejects(
      client.callTool({ name: 'calculate', arguments: { expression: '6*7' } }),
      (e) => e instanceof UnauthorizedError,
    );
    assert.equal(provider.authorizationUrls.length, asked + 1, 'the 403 started a new authorization');
    const wider = provider.authorizationUrls.at(-1);
    assert.deepEqual(wider.searchParams.get('scope').split(' ').sort(), ['mcp', 'mcp:calc']);
    await transport.finishAuth(provider.authorizationCode);
    provider.forceNewAuthorization = false;
    assert.deepEqual(claimsOf(provider.rawTokens().access_token).scope.split(' ').sort(), ['mcp', 'mcp:calc']);

    // The session was bound to the principal, not to the token: the same user goes on in it.
    const result = await client.callTool({ name: 'calculate', arguments: { expression: '6*7' } });
    assert.match(textOf(result), /42/);
    await transport.terminateSession().catch(() => {});
    await client.close();
  });

  test('scripts/login.sh signs in from the command line; the MCP Inspector CLI calls a tool with the token', async () => {
    const login = spawn(path.join(REPO_ROOT, 'scripts', 'login.sh'), [bastion.url('/mcp')], {
      env: { ...process.env, BASTION_LOGIN_TIMEOUT_MS: '60000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    login.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    const exited = new Promise((resolve) => login.on('close', (code) => resolve(code)));
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`login printed no URL:\n${stderr}`)), 20_000);
      login.stderr.setEncoding('utf8').on('data', (d) => {
        stderr += d;
        const m = stderr.match(/^\s+(http:\/\/\S+\/oauth\/authorize\S+)$/m);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    // The browser follows the redirect to the script's own loopback listener, as a person's would.
    await browserSignIn(url, { username: 'admin', password, artifactsDir: SHOTS, name: 'cli-login' });
    assert.equal(await exited, 0, `login failed:\n${stderr}`);
    const token = stdout.trim();
    assert.equal(claimsOf(token).aud, bastion.url('/mcp'));

    const inspector = path.join(REPO_ROOT, 'scripts', 'inspector.sh');
    const common = [bastion.url('/mcp'), '--transport', 'http'];
    const call = await run(inspector, [...common, '--header', `Authorization: Bearer ${token}`,
      '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=from the inspector'], { timeoutMs: 60_000 });
    assert.equal(call.code, 0, describeRun(call));
    assert.deepEqual(JSON.parse(call.stdout).content, [{ type: 'text', text: 'from the inspector' }]);
    const refused = await run(inspector, [...common, '--method', 'tools/list'], { timeoutMs: 60_000 });
    assert.notEqual(refused.code, 0, 'without the token the route refuses');
  });

  test('the logins show in the metrics, the readiness and the audit trail, and no token does', async () => {
    const admin = (p) => fetch(`http://127.0.0.1:${adminPort}${p}`);
    const ready = await admin('/readyz');
    const readyText = await ready.text();
    assert.equal(ready.status, 200, readyText);
    assert.match(readyText, /\[\+\]signing_keys ok/);
    const metrics = await (await admin('/metrics')).text();
    // Every client above started without a token: 401 missing_token, then successes.
    assert.ok(metricSum(metrics, 'bastion_auth_outcomes_total', { route: '/mcp', outcome: 'failure', reason: 'missing_token' }) >= 3);
    assert.ok(metricSum(metrics, 'bastion_auth_outcomes_total', { route: '/mcp', outcome: 'success' }) >= 3);
    assert.ok(metricSum(metrics, 'bastion_auth_outcomes_total', { route: '/mcp', outcome: 'denied', reason: 'insufficient_scope' }) >= 1);
    assert.ok(metricSum(metrics, 'bastion_jwks_fetches_total', { issuer: 'embedded', outcome: 'ok' }) >= 1);
    assert.ok(metricSum(metrics, 'bastion_jwks_keys', { issuer: 'embedded' }) >= 1);

    const audit = fs.readFileSync(auditFile, 'utf8');
    const records = audit.trim().split('\n').map((line) => JSON.parse(line));
    const count = (event, extra = {}) => records.filter((r) => r.event === event && Object.entries(extra).every(([k, v]) => r[k] === v)).length;
    assert.ok(count('authentication_failure', { reason: 'missing_token' }) >= 3, 'the 401s are audited');
    assert.ok(count('authorization_denied', { reason: 'insufficient_scope' }) >= 1, 'the 403 is audited');
    assert.ok(count('client_registered') >= 1, 'DCR is audited');
    assert.ok(count('consent_granted') >= 3, 'each consent is audited');
    assert.ok(count('tool_call', { subject: 'admin' }) >= 1, 'tool calls carry who called');
    // Tokens and the admin password reach neither the audit trail, nor the metrics, nor the log.
    const secrets = [...seenTokens.filter(Boolean), password];
    assert.ok(secrets.length >= 4);
    for (const [name, text] of [['audit', audit], ['metrics', metrics], ['log', bastion.output().replace(password, '')]]) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `a secret reached the ${name}`);
    }
  });
});
