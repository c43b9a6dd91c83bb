// A command-line OAuth login to a protected Bastion route, for tools that take a bearer token
// (the MCP Inspector CLI's --header, curl). It is a real OAuth client built on the official
// TypeScript SDK's auth(): it reads the route's Protected Resource Metadata (RFC 9728), the
// authorization server's metadata (RFC 8414), registers itself (RFC 7591), prints the sign-in URL
// to open in a browser on this machine, receives the answer on a loopback redirect URI, checks
// `state` and `iss` (RFC 9207), exchanges the code with its PKCE verifier, and prints the access
// token on standard output (everything else goes to standard error).
//
//   scripts/login.sh http://127.0.0.1:8080/mcp
//   TOKEN="$(scripts/login.sh http://127.0.0.1:8080/mcp)"
//   scripts/inspector.sh http://127.0.0.1:8080/mcp --transport http --method tools/list \
//       --header "Authorization: Bearer $TOKEN"
import http from 'node:http';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SDK = path.join(ROOT, 'tests', 'e2e', 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm', 'client', 'auth.js');
const WAIT_MS = Number(process.env.BASTION_LOGIN_TIMEOUT_MS || 5 * 60_000);

function fail(message) {
  process.stderr.write(`login: ${message}\n`);
  process.exit(1);
}

const serverArg = process.argv[2];
if (!serverArg || serverArg === '--help' || serverArg === '-h') {
  process.stderr.write('usage: scripts/login.sh MCP_URL   (prints an access token for the route on standard output)\n');
  process.exit(serverArg ? 0 : 2);
}
let serverUrl;
try {
  serverUrl = new URL(serverArg);
} catch {
  fail(`not a URL: ${serverArg}`);
}

let auth;
try {
  ({ auth } = await import(pathToFileURL(SDK).href));
} catch {
  fail('the pinned MCP SDK is missing: run scripts/setup.sh first');
}

// The redirect URI: a loopback listener on a free port (RFC 8252 §7.3), answering one request.
let settle;
const answer = new Promise((resolve) => { settle = resolve; });
const listener = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/callback') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
    .end('Bastion login: done. You can close this tab and return to the terminal.\n');
  settle(Object.fromEntries(url.searchParams));
});
await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
const redirectUrl = `http://127.0.0.1:${listener.address().port}/callback`;

const expectedState = crypto.randomBytes(16).toString('base64url');
let tokens;
let client;
let verifier;
let issuer = null;
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: 'Bastion command-line login',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state: () => expectedState,
  clientInformation: () => client,
  saveClientInformation: (info) => { client = info; },
  tokens: () => tokens,
  saveTokens: (t) => { tokens = t; },
  saveCodeVerifier: (v) => { verifier = v; },
  codeVerifier: () => verifier,
  saveDiscoveryState: (state) => { issuer = state?.authorizationServerMetadata?.issuer ?? issuer; },
  redirectToAuthorization: (url) => {
    issuer = issuer ?? url.origin;
    process.stderr.write(`Open this URL in a browser on this machine, sign in and allow access:\n\n  ${url.href}\n\n`);
  },
};

const timer = setTimeout(() => fail(`no answer from the browser within ${WAIT_MS / 1000} s`), WAIT_MS);
try {
  const first = await auth(provider, { serverUrl });
  if (first !== 'REDIRECT') fail(`unexpected result ${first}`);
  const params = await answer;
  if (params.error) fail(`the authorization server refused: ${params.error}${params.error_description ? ` (${params.error_description})` : ''}`);
  // RFC 6749 §10.12: the answer must belong to this request; RFC 9207: and come from the server
  // this client talked to.
  if (params.state !== expectedState) fail('the answer carries another state: ignored');
  if (issuer && params.iss && params.iss !== issuer) fail(`the answer comes from ${params.iss}, not ${issuer}: ignored`);
  if (!params.code) fail('the answer carries no code');
  const second = await auth(provider, { serverUrl, authorizationCode: params.code });
  if (second !== 'AUTHORIZED' || !tokens?.access_token) fail('the code exchange gave no token');
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
} finally {
  clearTimeout(timer);
  listener.close();
}
process.stderr.write(`login: signed in; the token is valid for ${tokens.expires_in ?? '?'} s (scope: ${tokens.scope ?? '?'})\n`);
process.stdout.write(`${tokens.access_token}\n`);
