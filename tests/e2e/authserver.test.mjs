// The embedded OAuth 2.1 authorization server against the real binary, with a real browser for
// the person's part (headless Chromium through lib/browser-login.mjs). Each refusal the issue
// lists gets the OAuth error its RFC names: wrong PKCE verifier, reused code, unregistered
// redirect URI, a resource of another server, refresh-token reuse, missing CSRF token, consent
// denied, and a Client ID Metadata Document at a private address.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { startBastion } from './lib/bastion.mjs';
import { browserSignIn } from './lib/browser-login.mjs';
import { run } from './lib/proc.mjs';
import { ARTIFACTS_DIR, BASTION_BIN } from './lib/env.mjs';
import {
  auth, discoverAuthorizationServerMetadata, registerClient, startAuthorization, exchangeAuthorization, refreshAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { BrowserOAuthProvider } from './lib/oauth-provider.mjs';

const PASSWORD = 'e2e-password-for-alice';
// Nothing listens there: the browser answers the redirect itself (interceptPrefix).
const REDIRECT = 'http://127.0.0.1:9/callback';
const SHOTS = path.join(ARTIFACTS_DIR, 'authserver-screenshots');

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const pkce = () => {
  const verifier = b64url(crypto.randomBytes(32));
  return { verifier, challenge: b64url(crypto.createHash('sha256').update(verifier).digest()) };
};

async function hashPassword(password) {
  const r = await run(BASTION_BIN, ['hash-password'], { input: `${password}\n`, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

let bastion;
let resource;

async function get(url, headers = {}) {
  return fetch(url, { redirect: 'manual', headers });
}
async function postForm(url, fields, headers = {}) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

function authorizeUrl({ challenge, clientId = 'e2e-client', redirectUri = REDIRECT, res = resource, state = 'st-123', extra = {} }) {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: res,
    ...extra,
  });
  return bastion.url(`/oauth/authorize?${params}`);
}

async function browserCode(name, extra = {}) {
  const { verifier, challenge } = pkce();
  const r = await browserSignIn(authorizeUrl({ challenge, ...extra }), {
    username: 'alice', password: PASSWORD, artifactsDir: SHOTS, name, interceptPrefix: REDIRECT,
  });
  assert.ok(r.params.code, `no code in ${r.callbackUrl}`);
  return { ...r, verifier };
}

async function redeem(code, verifier, extra = {}) {
  const r = await postForm(bastion.url('/oauth/token'), {
    grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: 'e2e-client', resource, ...extra,
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

async function refresh(token) {
  const r = await postForm(bastion.url('/oauth/token'), { grant_type: 'refresh_token', refresh_token: token, client_id: 'e2e-client' });
  return { status: r.status, body: await r.json() };
}

before(async () => {
  const hash = await hashPassword(PASSWORD);
  bastion = await startBastion({
    name: 'authserver',
    yaml: `listeners:
  - address: 127.0.0.1
    port: 0
routes:
  - path: /mcp
    modules: [demo]
authorization_server:
  data_dir: ":memory:"
  scopes: [mcp, mcp:admin]
  users:
    - username: alice
      password_hash: "${hash}"
  clients:
    - client_id: e2e-client
      client_name: E2E Test Client
      redirect_uris: [${REDIRECT}]
`,
  });
  resource = bastion.url('/mcp');
});

after(async () => {
  if (bastion) await bastion.stop();
});

describe('metadata and keys', () => {
  test('RFC 8414 metadata at both well-known addresses, issuer exactly the origin', async () => {
    for (const p of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const r = await get(bastion.url(p));
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /application\/json/);
      const m = await r.json();
      assert.equal(m.issuer, bastion.origin);
      assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
      assert.equal(m.client_id_metadata_document_supported, true);
      assert.equal(m.authorization_response_iss_parameter_supported, true);
      assert.equal(m.token_endpoint, `${bastion.origin}/oauth/token`);
    }
  });

  test('the JWKS has one public P-256 key and no private part', async () => {
    const r = await get(bastion.url('/oauth/jwks'));
    assert.equal(r.status, 200);
    const { keys } = await r.json();
    assert.equal(keys.length, 1);
    assert.equal(keys[0].kty, 'EC');
    assert.equal(keys[0].crv, 'P-256');
    assert.equal(keys[0].alg, 'ES256');
    assert.equal(keys[0].d, undefined);
  });
});

describe('browser sign-in', () => {
  test('sign in and allow: code -> RFC 9068 token whose signature verifies with the JWKS', async () => {
    const r = await browserCode('approve');
    assert.equal(r.params.state, 'st-123');
    assert.equal(r.params.iss, bastion.origin);
    assert.ok(r.params.code, r.callbackUrl);
    assert.equal(r.screenshots.length, 2, 'a login and a consent screenshot');
    for (const file of r.screenshots) assert.ok(fs.statSync(file).size > 1000, file);
    const violations = r.consoleMessages.filter((m) => /Content Security Policy|Refused/i.test(m));
    assert.deepEqual(violations, [], 'the pages run under their CSP without violations');

    const t = await redeem(r.params.code, r.verifier);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.match(t.headers.get('cache-control'), /no-store/);
    assert.equal(t.body.token_type, 'Bearer');
    const [h, p, s] = t.body.access_token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    assert.equal(header.typ, 'at+jwt');
    assert.equal(claims.aud, resource);
    assert.equal(claims.iss, bastion.origin);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, 'e2e-client');
    assert.ok(claims.jti && claims.exp > claims.iat);
    const { keys } = await (await get(bastion.url('/oauth/jwks'))).json();
    const key = crypto.createPublicKey({ key: keys.find((k) => k.kid === header.kid), format: 'jwk' });
    const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    assert.ok(ok, 'the ES256 signature verifies with the published key');
  });

  test('consent denied -> access_denied with state and iss', async () => {
    const { challenge } = pkce();
    // A fresh browser has no session: it signs in again, then denies.
    const r = await browserSignIn(authorizeUrl({ challenge, extra: { prompt: 'consent' } }), {
      username: 'alice', password: PASSWORD, decision: 'deny', artifactsDir: SHOTS, name: 'deny', interceptPrefix: REDIRECT,
    });
    assert.equal(r.params.error, 'access_denied', r.callbackUrl);
    assert.equal(r.params.state, 'st-123');
    assert.equal(r.params.iss, bastion.origin);
    assert.equal(r.params.code, undefined);
  });
});

describe('the TypeScript SDK\'s OAuth client functions', () => {
  // The real SDK (v1) discovers, registers, authorizes (the browser plays the user), exchanges
  // the code and refreshes: its zod schemas check every answer of ours.
  for (const method of ['none', 'client_secret_basic']) {
    test(`discovery, registration (${method}), code exchange and refresh`, async () => {
      const redirect = 'http://127.0.0.1:9/sdk-callback';
      const metadata = await discoverAuthorizationServerMetadata(bastion.origin);
      assert.equal(metadata.issuer, bastion.origin);
      const clientMetadata = {
        client_name: `SDK ${method}`, redirect_uris: [redirect], grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'], ...(method === 'none' ? { token_endpoint_auth_method: 'none' } : {}),
      };
      const info = await registerClient(bastion.origin, { metadata, clientMetadata });
      assert.ok(info.client_id);
      assert.equal(Boolean(info.client_secret), method !== 'none');
      const { authorizationUrl, codeVerifier } = await startAuthorization(bastion.origin, {
        metadata, clientInformation: info, redirectUrl: redirect, scope: 'mcp', state: 'sdk-state', resource: new URL(resource),
      });
      const r = await browserSignIn(authorizationUrl.href, {
        username: 'alice', password: PASSWORD, artifactsDir: SHOTS, name: `sdk-${method}`, interceptPrefix: redirect,
      });
      assert.ok(r.params.code, r.callbackUrl);
      assert.equal(r.params.state, 'sdk-state');
      const tokens = await exchangeAuthorization(bastion.origin, {
        metadata, clientInformation: info, authorizationCode: r.params.code, codeVerifier, redirectUri: redirect, resource: new URL(resource),
      });
      assert.equal(tokens.token_type, 'Bearer');
      assert.equal(tokens.scope, 'mcp');
      const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url'));
      assert.equal(claims.aud, resource);
      assert.equal(claims.client_id, info.client_id);
      const refreshed = await refreshAuthorization(bastion.origin, {
        metadata, clientInformation: info, refreshToken: tokens.refresh_token, resource: new URL(resource),
      });
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    });
  }
});

describe('the SDK\'s auth() with the browser provider (lib/oauth-provider.mjs)', () => {
  test('auth() discovers, registers dynamically, signs in through the browser and gets tokens', async () => {
    const provider = new BrowserOAuthProvider({
      username: 'alice', password: PASSWORD, artifactsDir: SHOTS, name: 'sdk-auth', alwaysSendResource: true,
    });
    const serverUrl = bastion.url('/mcp');
    assert.equal(await auth(provider, { serverUrl }), 'REDIRECT');
    assert.ok(provider.clientInformation()?.client_id, 'registered through DCR');
    assert.ok(provider.authorizationCode, 'the browser brought a code back');
    assert.equal(await auth(provider, { serverUrl, authorizationCode: provider.authorizationCode }), 'AUTHORIZED');
    const claims = JSON.parse(Buffer.from(provider.tokens().access_token.split('.')[1], 'base64url'));
    assert.equal(claims.aud, serverUrl);
    assert.equal(claims.sub, 'alice');
    // A later auth() with a refresh token refreshes without the browser.
    provider.saveTokens({ ...provider.tokens(), access_token: 'expired' });
    assert.equal(await auth(provider, { serverUrl }), 'AUTHORIZED');
    assert.notEqual(provider.tokens().access_token, 'expired');
    assert.equal(provider.redirects, 1);
  });
});

describe('refusals', () => {
  test('wrong PKCE verifier -> invalid_grant', async () => {
    const r = await browserCode('pkce');
    const t = await redeem(r.params.code, pkce().verifier);
    assert.equal(t.status, 400);
    assert.equal(t.body.error, 'invalid_grant');
  });

  test('reused code -> invalid_grant, and the first redemption\'s refresh token is revoked', async () => {
    const r = await browserCode('reuse');
    const first = await redeem(r.params.code, r.verifier);
    assert.equal(first.status, 200);
    const second = await redeem(r.params.code, r.verifier);
    assert.equal(second.status, 400);
    assert.equal(second.body.error, 'invalid_grant');
    assert.equal((await refresh(first.body.refresh_token)).body.error, 'invalid_grant');
  });

  test('redirect URI not registered -> an error page, never a redirect', async () => {
    const r = await get(authorizeUrl({ challenge: pkce().challenge, redirectUri: 'http://127.0.0.1:9/evil' }));
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
    assert.match(await r.text(), /not registered/);
  });

  test('resource of another server -> invalid_target', async () => {
    const r = await get(authorizeUrl({ challenge: pkce().challenge, res: 'https://other.example/mcp' }));
    assert.equal(r.status, 303);
    const back = new URL(r.headers.get('location'));
    assert.equal(back.origin + back.pathname, REDIRECT);
    assert.equal(back.searchParams.get('error'), 'invalid_target');
    assert.equal(back.searchParams.get('state'), 'st-123');
  });

  test('refresh tokens rotate; reusing one -> invalid_grant and the whole family is revoked', async () => {
    const r = await browserCode('refresh');
    const t = await redeem(r.params.code, r.verifier);
    const r1 = t.body.refresh_token;
    const second = await refresh(r1);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    const r2 = second.body.refresh_token;
    assert.notEqual(r1, r2);
    const reuse = await refresh(r1);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    assert.equal((await refresh(r2)).body.error, 'invalid_grant', 'the rotated token died with its family');
  });

  test('sign-in form without its CSRF token -> 403, no session cookie', async () => {
    const page = await get(authorizeUrl({ challenge: pkce().challenge }));
    assert.equal(page.status, 200);
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const html = await page.text();
    const tx = html.match(/name="tx" value="([^"]+)"/)[1];
    const r = await postForm(bastion.url('/oauth/login'), { tx, username: 'alice', password: PASSWORD }, { cookie });
    assert.equal(r.status, 403);
    assert.match(await r.text(), /CSRF/);
    assert.deepEqual(r.headers.getSetCookie(), []);
  });

  test('pages: CSP default-src none, frame-ancestors none, X-Frame-Options DENY, HttpOnly SameSite=Lax cookies', async () => {
    const r = await get(authorizeUrl({ challenge: pkce().challenge }));
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    for (const c of r.headers.getSetCookie()) {
      assert.match(c, /HttpOnly/);
      assert.match(c, /SameSite=Lax/);
    }
  });

  test('client ID metadata document at a private or loopback address -> refused before any connection', async () => {
    for (const clientId of ['https://10.0.0.1/client.json', 'https://169.254.169.254/latest/client.json',
      `https://127.0.0.1:${bastion.port}/client.json`]) {
      const r = await get(authorizeUrl({ challenge: pkce().challenge, clientId }));
      assert.equal(r.status, 400, clientId);
      assert.equal(r.headers.get('location'), null, clientId);
      assert.match(await r.text(), /could not be fetched/, clientId);
    }
    assert.match(bastion.output(), /client_metadata_refused/);
  });

  test('dynamic client registration: a public client is registered; bad redirect URIs are refused', async () => {
    const ok = await fetch(bastion.url('/oauth/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none', client_name: 'dyn' }),
    });
    assert.equal(ok.status, 201);
    assert.ok((await ok.json()).client_id);
    const bad = await fetch(bastion.url('/oauth/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://attacker.example/cb'] }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, 'invalid_redirect_uri');
  });

  test('no password, code or token ever reaches the log', async () => {
    const log = bastion.output();
    assert.ok(!log.includes(PASSWORD));
    assert.doesNotMatch(log, /eyJ[A-Za-z0-9_-]{20,}\./, 'no JWT in the log');
  });
});

describe('over HTTPS', () => {
  test('a real browser keeps the __Host- Secure cookies and completes the flow over TLS', async () => {
    const dir = fs.mkdtempSync(path.join(ARTIFACTS_DIR, 'as-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const made = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { timeoutMs: 30_000 });
    assert.equal(made.code, 0, made.stderr);
    const hash = await hashPassword(PASSWORD);
    const tls = await startBastion({
      name: 'as-tls',
      yaml: `listeners:
  - address: 127.0.0.1
    port: 0
    tls: {certificate: ${JSON.stringify(cert)}, private_key: ${JSON.stringify(key)}}
routes:
  - path: /mcp
    modules: [demo]
authorization_server:
  data_dir: ":memory:"
  users:
    - username: alice
      password_hash: "${hash}"
  clients:
    - client_id: e2e-client
      redirect_uris: [https://127.0.0.1:9/callback]
`,
    });
    try {
      const origin = `https://127.0.0.1:${tls.port}`;
      const { verifier, challenge } = pkce();
      const url = `${origin}/oauth/authorize?${new URLSearchParams({
        response_type: 'code', client_id: 'e2e-client', redirect_uri: 'https://127.0.0.1:9/callback', state: 'tls',
        code_challenge: challenge, code_challenge_method: 'S256', resource: `${origin}/mcp`,
      })}`;
      const r = await browserSignIn(url, {
        username: 'alice', password: PASSWORD, artifactsDir: SHOTS, name: 'tls', ignoreHTTPSErrors: true,
        interceptPrefix: 'https://127.0.0.1:9/callback',
      });
      assert.ok(r.params.code, r.callbackUrl);
      assert.equal(r.params.iss, origin);
      const names = r.cookies.map((c) => c.name).sort();
      assert.deepEqual(names, ['__Host-bastion-browser', '__Host-bastion-session']);
      for (const c of r.cookies) {
        assert.equal(c.secure, true, c.name);
        assert.equal(c.httpOnly, true, c.name);
        assert.equal(c.sameSite, 'Lax', c.name);
        assert.equal(c.path, '/', c.name);
      }
      // The code is good at the token endpoint over TLS too.
      const body = new URLSearchParams({
        grant_type: 'authorization_code', code: r.params.code, code_verifier: verifier, client_id: 'e2e-client',
        redirect_uri: 'https://127.0.0.1:9/callback', resource: `${origin}/mcp`,
      }).toString();
      const answer = await new Promise((resolve, reject) => {
        const req = https.request(`${origin}/oauth/token`, {
          method: 'POST', ca: fs.readFileSync(cert), headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => resolve({ status: res.statusCode, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(JSON.parse(Buffer.from(JSON.parse(answer.text).access_token.split('.')[1], 'base64url')).iss, origin);
    } finally {
      await tls.stop();
    }
  });
});

describe('configuration', () => {
  test('check-config refuses a private_key_jwt client whose public key does not parse, with its position', async () => {
    const file = path.join(fs.mkdtempSync(path.join(ARTIFACTS_DIR, 'as-cfg-')), 'bad.yaml');
    fs.writeFileSync(file, `listeners: [{port: 0}]
authorization_server:
  clients:
    - client_id: robot
      token_endpoint_auth_method: private_key_jwt
      public_key: "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----"
      grant_types: [client_credentials]
`);
    const r = await run(BASTION_BIN, ['check-config', file], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /bad\.yaml:6:\d+: authorization_server\.clients\[0\]\.public_key: not a PEM public key/);
  });

  test('hash-password refuses a short password and never echoes it', async () => {
    const r = await run(BASTION_BIN, ['hash-password'], { input: 'short\n', timeoutMs: 30_000 });
    assert.equal(r.code, 2);
    assert.ok(!r.stdout.includes('short') && !r.stderr.includes('short\n'));
  });
});

describe('first start and restart', () => {
  test('no users: one admin with a random password printed once; state survives a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(ARTIFACTS_DIR, 'as-data-'));
    const yaml = `listeners:
  - address: 127.0.0.1
    port: 0
routes:
  - path: /mcp
    modules: [demo]
authorization_server:
  data_dir: ${JSON.stringify(dataDir)}
  clients:
    - client_id: e2e-client
      redirect_uris: [${REDIRECT}]
`;
    const first = await startBastion({ name: 'as-first', yaml });
    let password;
    let registered;
    try {
      await new Promise((r) => setTimeout(r, 300));
      const m = first.output().match(/created the user 'admin' with the password '([^']+)'/);
      assert.ok(m, first.output());
      password = m[1];
      assert.equal(password.length, 20);
      const reg = await fetch(first.url('/oauth/register'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' }),
      });
      registered = (await reg.json()).client_id;
      assert.ok(registered);
    } finally {
      await first.stop();
    }
    assert.equal(fs.statSync(path.join(dataDir, 'authserver.db')).mode & 0o777, 0o600);
    for (const f of fs.readdirSync(path.join(dataDir, 'keys'))) {
      assert.equal(fs.statSync(path.join(dataDir, 'keys', f)).mode & 0o777, 0o600, f);
    }
    const second = await startBastion({ name: 'as-second', yaml });
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.doesNotMatch(second.output(), /created the user/, 'the password is printed only on the first start');
      // The admin password from the first start still signs in, and the registered client is known.
      const { challenge } = pkce();
      const url = second.url(`/oauth/authorize?${new URLSearchParams({
        response_type: 'code', client_id: registered, redirect_uri: 'http://127.0.0.1:9/cb', state: 's',
        code_challenge: challenge, code_challenge_method: 'S256', resource: second.url('/mcp'),
      })}`);
      const r = await browserSignIn(url, { username: 'admin', password, artifactsDir: SHOTS, name: 'admin', interceptPrefix: 'http://127.0.0.1:9/cb' });
      assert.ok(r.params.code, r.callbackUrl);
    } finally {
      await second.stop();
    }
  });
});
