// The OAuth 2.1 resource server against real HTTP: a bastion of this suite's own config trusts
// two stand-in issuers (tests/e2e/lib/issuer.mjs) whose metadata and JWKS are served on
// 127.0.0.1. Covers Protected Resource Metadata, good tokens of every algorithm, an attack
// battery of crafted tokens (each refused with the right status and challenge), key rotation,
// scope policy (403 step-up, list filtering), session binding, the TypeScript SDK client with
// and without a token, the MCP Inspector CLI with a header, and an issuer outage and recovery.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startBastion } from './lib/bastion.mjs';
import { request, rpc, mcpHeaders } from './lib/http.mjs';
import { FakeIssuer, jwt, hmacJwt, b64url, generateKey, publicJwk } from './lib/issuer.mjs';
import { run, describeRun } from './lib/proc.mjs';
import { E2E_DIR, NODE22 } from './lib/env.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

const issuer = new FakeIssuer();
const second = new FakeIssuer();  // a second issuer trusted by the same route
const opaque = new FakeIssuer();  // a third one that issues opaque tokens (RFC 7662 introspection)
let bastion;
let resource;      // canonical resource URI of /mcp
let prmUrl;        // its metadata URL

function claims(extra = {}) {
  return {
    iss: issuer.issuer, sub: 'alice', aud: resource, exp: now() + 300, iat: now(), client_id: 'e2e',
    scope: 'mcp math', jti: crypto.randomUUID(), ...extra,
  };
}
const good = (extra = {}, kid = 'r1') => issuer.sign(kid, claims(extra));

const INIT = rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e-auth', version: '1' } }, 1);

async function post(token, { body = INIT, headers = {}, query = '', session } = {}) {
  const h = mcpHeaders({ session, extra: headers });
  if (token !== undefined) h.Authorization = `Bearer ${token}`;
  return request({ method: 'POST', path: `/mcp${query}`, headers: h, body, port: bastion.port });
}

function params(challenge) {
  const out = {};
  const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(challenge))) out[m[1]] = m[2].replace(/\\(.)/g, '$1');
  return out;
}

function assertChallenge(reply, status, error) {
  assert.equal(reply.status, status, `expected ${status}, got ${reply.describe()}`);
  const header = reply.headers['www-authenticate'];
  assert.ok(header, `no WWW-Authenticate on ${reply.describe()}`);
  assert.match(header, /^Bearer /);
  const p = params(header);
  assert.equal(p.resource_metadata, prmUrl);
  assert.equal(p.scope, 'mcp');
  assert.equal(p.error, error);
  // Nothing about why: the same description for every invalid token.
  if (error === 'invalid_token') assert.equal(p.error_description, 'The access token is invalid or expired.');
}

before(async () => {
  issuer.addKey('r1', 'RSA', 'RS256');
  issuer.addKey('p1', 'RSA', 'PS256');
  issuer.addKey('e1', 'EC', 'ES256');
  issuer.addKey('d1', 'OKP', 'EdDSA');
  await issuer.start();
  second.addKey('s1', 'EC', 'ES256');
  await second.start();
  opaque.introspectionClient = { id: 'bastion-rs', secret: 'intro-secret-e2e' };
  await opaque.start();
  const yaml = `
listeners: [{address: 127.0.0.1, port: 0}]
logging: {level: info}
auth:
  issuers:
    - name: main
      issuer: ${issuer.issuer}
      allow_http_loopback: true
      algorithms: [RS256, PS256, ES256, EdDSA]
      refresh_interval_s: 2
      unknown_kid_refetch_interval_s: 1
      max_staleness_s: 5
      clock_skew_s: 5
      fetch_timeout_ms: 1000
    - name: second
      issuer: ${second.issuer}
      allow_http_loopback: true
      discovery: false
      jwks_uri: ${second.issuer}/jwks
      algorithms: [ES256]
    - name: opaque
      issuer: ${opaque.issuer}
      allow_http_loopback: true
      discovery: false
      introspection:
        endpoint: ${opaque.issuer}/introspect
        client_id: bastion-rs
        client_secret: \${env:BASTION_E2E_INTROSPECTION_SECRET}
        max_cache_s: 60
routes:
  - path: /mcp
    modules: [demo]
    auth:
      issuers: [main, second, opaque]
      scopes: [mcp]
      tool_scopes: {"calc*": [math]}
      resource_name: Bastion e2e
      resource_documentation: https://example.com/docs
`;
  bastion = await startBastion({ name: 'auth-rs', yaml, env: { BASTION_E2E_INTROSPECTION_SECRET: 'intro-secret-e2e' } });
  resource = `${bastion.origin}/mcp`;
  prmUrl = `${bastion.origin}/.well-known/oauth-protected-resource/mcp`;
});

after(async () => {
  await bastion?.stop();
  await issuer.stop();
  await second.stop();
  await opaque.stop();
});

describe('Protected Resource Metadata (RFC 9728)', () => {
  for (const where of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
    test(`GET ${where}`, async () => {
      const r = await request({ method: 'GET', path: where, port: bastion.port });
      assert.equal(r.status, 200, r.describe());
      const doc = r.json();
      assert.equal(doc.resource, resource);
      assert.deepEqual(doc.authorization_servers, [issuer.issuer, second.issuer, opaque.issuer]);
      assert.deepEqual(doc.scopes_supported, ['mcp']);
      assert.deepEqual(doc.bearer_methods_supported, ['header']);
      assert.equal(doc.resource_name, 'Bastion e2e');
      assert.equal(doc.resource_documentation, 'https://example.com/docs');
    });
  }
});

describe('good tokens', () => {
  for (const kid of ['r1', 'p1', 'e1', 'd1']) {
    test(`${issuer.keys.get(kid)?.alg ?? kid} token is accepted`, async () => {
      const r = await post(good({}, kid));
      assert.equal(r.status, 200, r.describe());
      assert.ok(r.headers['mcp-session-id']);
      assert.equal(r.response(1).result.serverInfo.name !== undefined, true);
    });
  }
  test('a second issuer on the same route', async () => {
    const { pair } = second.keys.get('s1');
    const t = jwt({ alg: 'ES256', kid: 's1' }, { ...claims(), iss: second.issuer }, { key: pair.privateKey });
    const r = await post(t);
    assert.equal(r.status, 200, r.describe());
  });
  test('the scheme name is case-insensitive', async () => {
    const r = await request({ method: 'POST', path: '/mcp', port: bastion.port, body: INIT,
      headers: { ...mcpHeaders(), Authorization: `bearer ${good()}` } });
    assert.equal(r.status, 200, r.describe());
  });
});

describe('opaque tokens (RFC 7662 introspection)', () => {
  const answer = (extra = {}) => ({ active: true, iss: opaque.issuer, sub: 'carol', aud: resource, scope: 'mcp',
    client_id: 'opaque-client', exp: now() + 300, ...extra });

  test('an active token for this resource is accepted, then served from the cache', async () => {
    opaque.opaque.set('opaque-good-1', answer());
    const before = opaque.introspections;
    for (let i = 0; i < 3; i++) {
      const r = await post('opaque-good-1');
      assert.equal(r.status, 200, r.describe());
    }
    assert.equal(opaque.introspections - before, 1, 'introspected more than once');
  });
  test('an inactive token is refused', async () => {
    const r = await post('opaque-unknown-2');
    assertChallenge(r, 401, 'invalid_token');
  });
  test('an active token for another resource is refused', async () => {
    opaque.opaque.set('opaque-other-3', answer({ aud: 'https://other.example/mcp' }));
    assertChallenge(await post('opaque-other-3'), 401, 'invalid_token');
  });
  test('an active token naming another issuer is refused', async () => {
    opaque.opaque.set('opaque-iss-4', answer({ iss: 'https://elsewhere.example' }));
    assertChallenge(await post('opaque-iss-4'), 401, 'invalid_token');
  });
  test('an expired answer is refused', async () => {
    opaque.opaque.set('opaque-exp-5', answer({ exp: now() - 120 }));
    assertChallenge(await post('opaque-exp-5'), 401, 'invalid_token');
  });
  test('bastion authenticates to the introspection endpoint with its client secret', async () => {
    opaque.introspectionClient = { id: 'bastion-rs', secret: 'rotated' };
    opaque.opaque.set('opaque-good-6', answer());
    const r = await post('opaque-good-6');
    assert.equal(r.status, 503, r.describe());
    opaque.introspectionClient = { id: 'bastion-rs', secret: 'intro-secret-e2e' };
    assert.equal((await post('opaque-good-6')).status, 200);
  });
});

describe('attack battery: every crafted token is refused', () => {
  const rsa = () => issuer.keys.get('r1').pair;
  const attacker = { rsa: generateKey('RSA'), ec: generateKey('EC'), ed: generateKey('OKP') };
  const hdr = (extra = {}) => ({ alg: 'RS256', kid: 'r1', ...extra });
  const signWith = (pair, header, c) => jwt(header, c, { key: pair.privateKey });
  const rsaPem = () => rsa().publicKey.export({ type: 'spki', format: 'pem' });
  const flip = (t) => { const i = t.length - 10; return t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1); };

  // [name, () => token, expected status, expected error]
  const cases = [
    ['alg none, empty signature', () => jwt({ alg: 'none' }, claims(), { signature: '' }), 401, 'invalid_token'],
    ['alg none with a signature', () => jwt({ alg: 'none' }, claims(), { signature: 'AAAA' }), 401, 'invalid_token'],
    ['alg "None"', () => jwt({ alg: 'None', kid: 'r1' }, claims(), { signature: 'AAAA' }), 401, 'invalid_token'],
    ['alg confusion: HS256 keyed with the RSA public key PEM', () => hmacJwt(hdr({ alg: 'HS256' }), claims(), rsaPem()), 401, 'invalid_token'],
    ['alg confusion: HS256 keyed with the JWK modulus', () => hmacJwt(hdr({ alg: 'HS256' }), claims(), publicJwk(rsa(), 'r1').n), 401, 'invalid_token'],
    ['HS512', () => hmacJwt(hdr({ alg: 'HS512' }), claims(), 'secret'), 401, 'invalid_token'],
    ['ES256 header on an RSA kid', () => signWith(attacker.ec, { alg: 'ES256', kid: 'r1' }, claims()), 401, 'invalid_token'],
    ['EdDSA header on an EC kid', () => signWith(attacker.ed, { alg: 'EdDSA', kid: 'e1' }, claims()), 401, 'invalid_token'],
    ['RS256 header on an EC kid', () => signWith(attacker.rsa, { alg: 'RS256', kid: 'e1' }, claims()), 401, 'invalid_token'],
    ['PS256 header, PKCS#1 v1.5 signature', () => jwt({ alg: 'PS256', kid: 'p1' }, claims(), { alg: 'RS256', key: issuer.keys.get('p1').pair.privateKey }), 401, 'invalid_token'],
    ['algorithm outside the allow-list (RS384)', () => jwt(hdr({ alg: 'RS384' }), claims(), { key: rsa().privateKey }), 401, 'invalid_token'],
    ['unknown kid', () => signWith(attacker.rsa, hdr({ kid: 'who' }), claims()), 401, 'invalid_token'],
    ['no kid, attacker key', () => signWith(attacker.rsa, { alg: 'RS256' }, claims()), 401, 'invalid_token'],
    ['right kid, attacker signature', () => signWith(attacker.rsa, hdr(), claims()), 401, 'invalid_token'],
    ['kid is a number', () => jwt(hdr({ kid: 1 }), claims(), { key: rsa().privateKey }), 401, 'invalid_token'],
    ['wrong issuer', () => good({ iss: 'http://127.0.0.1:1' }), 401, 'invalid_token'],
    ['issuer with a trailing slash', () => good({ iss: `${issuer.issuer}/` }), 401, 'invalid_token'],
    ['missing iss', () => good({ iss: undefined }), 401, 'invalid_token'],
    ['second issuer claim signed by the first issuer', () => good({ iss: second.issuer }), 401, 'invalid_token'],
    ['audience for another resource', () => good({ aud: 'https://other.example/mcp' }), 401, 'invalid_token'],
    ['audience for another path', () => good({ aud: `${bastion.origin}/mcp2` }), 401, 'invalid_token'],
    ['audience array without us', () => good({ aud: ['https://a.example', 'https://b.example'] }), 401, 'invalid_token'],
    ['missing audience', () => good({ aud: undefined }), 401, 'invalid_token'],
    ['expired', () => good({ exp: now() - 60 }), 401, 'invalid_token'],
    ['no exp', () => good({ exp: undefined }), 401, 'invalid_token'],
    ['exp as a string', () => good({ exp: String(now() + 300) }), 401, 'invalid_token'],
    ['not yet valid (nbf)', () => good({ nbf: now() + 600 }), 401, 'invalid_token'],
    ['issued in the future (iat)', () => good({ iat: now() + 600 }), 401, 'invalid_token'],
    ['no subject', () => good({ sub: undefined }), 401, 'invalid_token'],
    ['bad signature (one character changed)', () => flip(good()), 401, 'invalid_token'],
    ['truncated signature', () => good().slice(0, -12), 401, 'invalid_token'],
    ['truncated to two parts', () => good().split('.').slice(0, 2).join('.'), 401, 'invalid_token'],
    ['header only', () => good().split('.')[0], 401, 'invalid_token'],
    ['five parts (JWE shape)', () => `${good()}.AAAA.BBBB`, 401, 'invalid_token'],
    ['oversized token (10 KB)', () => good({ pad: 'x'.repeat(10_000) }), 401, 'invalid_token'],
    ['deeply nested claims', () => good({ deep: JSON.parse('['.repeat(40) + ']'.repeat(40)) }), 401, 'invalid_token'],
    ['duplicate claim (sub twice)', () => {
      const body = JSON.stringify(claims()).replace('"sub":"alice"', '"sub":"alice","sub":"admin"');
      return jwt(hdr(), null, { rawClaims: b64url(body), key: rsa().privateKey });
    }, 401, 'invalid_token'],
    ['duplicate header member (alg twice)', () => jwt(null, claims(), { alg: 'RS256', rawHeader: b64url('{"alg":"none","alg":"RS256","kid":"r1"}'), key: rsa().privateKey }), 401, 'invalid_token'],
    ['header is not JSON', () => jwt(null, claims(), { alg: 'RS256', rawHeader: b64url('alg=RS256'), key: rsa().privateKey }), 401, 'invalid_token'],
    ['header is a JSON array', () => jwt(null, claims(), { alg: 'RS256', rawHeader: b64url('["RS256"]'), key: rsa().privateKey }), 401, 'invalid_token'],
    ['base64 padding in a segment', () => { const [h, p, s] = good().split('.'); return `${h}=.${p}.${s}`; }, 400, 'invalid_request'],
    ['crit with an unknown extension', () => jwt(hdr({ crit: ['x-bastion'], 'x-bastion': 1 }), claims(), { key: rsa().privateKey }), 401, 'invalid_token'],
    ['crit naming exp', () => jwt(hdr({ crit: ['exp'] }), claims(), { key: rsa().privateKey }), 401, 'invalid_token'],
    ['jku pointing at an attacker JWKS', () => signWith(attacker.rsa, hdr({ kid: 'evil', jku: `${evilUrl()}/jwks` }), claims()), 401, 'invalid_token'],
    ['x5u pointing at an attacker certificate', () => signWith(attacker.rsa, hdr({ kid: 'evil', x5u: `${evilUrl()}/cert.pem` }), claims()), 401, 'invalid_token'],
    ['embedded jwk header with the attacker key', () => signWith(attacker.rsa, hdr({ kid: 'evil', jwk: publicJwk(attacker.rsa, 'evil') }), claims()), 401, 'invalid_token'],
    ['unknown opaque token (introspection says inactive)', () => 'opaque-random-value-123', 401, 'invalid_token'],
    ['empty token', () => '', 400, 'invalid_request'],
    ['token with a space inside', () => 'abc def', 400, 'invalid_request'],
    ['token with a quote', () => 'abc"def', 400, 'invalid_request'],
  ];

  // The attacker's server records whether bastion ever fetched from it (it must not).
  let evil;
  const evilHits = [];
  const evilUrl = () => `http://127.0.0.1:${evil.address().port}`;
  before(async () => {
    evil = http.createServer((req, res) => {
      evilHits.push(req.url);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk(attacker.rsa, 'evil')] }));
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await new Promise((r) => evil.close(r));
    assert.deepEqual(evilHits, [], 'bastion fetched a URL named by a token');
  });

  test('the battery has at least 40 tokens', () => assert.ok(cases.length >= 40, `${cases.length}`));

  for (const [name, make, status, error] of cases) {
    test(name, async () => {
      const r = await post(make());
      assertChallenge(r, status, error);
      assert.equal(r.headers['mcp-session-id'], undefined);
    });
  }

  test('missing token: 401 with resource_metadata and scope, no error code', async () => {
    const r = await post(undefined);
    assert.equal(r.status, 401);
    const p = params(r.headers['www-authenticate']);
    assert.equal(p.resource_metadata, prmUrl);
    assert.equal(p.scope, 'mcp');
    assert.equal(p.error, undefined);
  });
  test('another scheme (Basic) counts as no token', async () => {
    const r = await request({ method: 'POST', path: '/mcp', port: bastion.port, body: INIT,
      headers: { ...mcpHeaders(), Authorization: 'Basic YWxpY2U6c2VjcmV0' } });
    assert.equal(r.status, 401);
    assert.equal(params(r.headers['www-authenticate']).error, undefined);
  });
  test('a valid token in the query string is refused', async () => {
    const r = await post(undefined, { query: `?access_token=${good()}` });
    assertChallenge(r, 400, 'invalid_request');
  });
  test('a valid token in the query string beside a valid header is refused', async () => {
    const r = await post(good(), { query: `?access_token=${good()}` });
    assertChallenge(r, 400, 'invalid_request');
  });
  test('a valid token in a form body is refused', async () => {
    const r = await request({ method: 'POST', path: '/mcp', port: bastion.port, body: `access_token=${good()}`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json, text/event-stream' } });
    assertChallenge(r, 400, 'invalid_request');
  });
  test('two Authorization headers are refused', async () => {
    const r = await request({ method: 'POST', path: '/mcp', port: bastion.port, body: INIT,
      headers: { ...mcpHeaders(), Authorization: [`Bearer ${good()}`, `Bearer ${good()}`] } });
    assertChallenge(r, 400, 'invalid_request');
  });
  test('"Bearer" without a token is refused', async () => {
    const r = await request({ method: 'POST', path: '/mcp', port: bastion.port, body: INIT,
      headers: { ...mcpHeaders(), Authorization: 'Bearer' } });
    assertChallenge(r, 400, 'invalid_request');
  });
  test('the token is never logged', async () => {
    const token = good({ jti: 'log-probe-0123456789' });
    await post(token);
    await post(flip(token));
    const log = bastion.output();
    assert.equal(log.includes(token.split('.')[2]), false);
    assert.equal(log.includes(token.split('.')[1]), false);
  });
});

describe('key rotation', () => {
  test('a new key is picked up on its first unknown kid; a removed key stops working', async () => {
    await sleep(1100);  // leave the unknown-kid refetch interval the battery may have used
    issuer.addKey('r2', 'RSA', 'RS256');
    const r = await post(good({}, 'r2'));
    assert.equal(r.status, 200, r.describe());
    issuer.published.delete('r1');
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) {
      await sleep(250);
      status = (await post(good({}, 'r1'))).status;
    }
    assert.equal(status, 401, 'r1 tokens still accepted after the key left the JWKS');
    // Rotate back for the rest of the suite: picked up by the next refresh or kid refetch.
    issuer.published.add('r1');
    for (let i = 0; i < 40 && status !== 200; i++) {
      await sleep(250);
      status = (await post(good({}, 'r1'))).status;
    }
    assert.equal(status, 200, 'r1 did not come back');
  });
});

describe('scope policy, list filtering and session binding', () => {
  async function open(token) {
    const r = await post(token);
    assert.equal(r.status, 200, r.describe());
    const session = r.headers['mcp-session-id'];
    await post(token, { session, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    return session;
  }

  test('a token without the route scope gets 403 insufficient_scope', async () => {
    const r = await post(good({ scope: 'other' }));
    assert.equal(r.status, 403, r.describe());
    const p = params(r.headers['www-authenticate']);
    assert.equal(p.error, 'insufficient_scope');
    assert.equal(p.scope, 'mcp');
    assert.equal(p.resource_metadata, prmUrl);
  });

  test('tools/list shows only usable tools; calling another gets the step-up challenge', async () => {
    const token = good({ scope: 'mcp' });
    const session = await open(token);
    const list = await post(token, { session, body: rpc('tools/list', {}, 2) });
    assert.equal(list.status, 200, list.describe());
    const names = list.response(2).result.tools.map((t) => t.name);
    assert.ok(names.includes('echo'), names.join());
    assert.equal(names.includes('calculate'), false, names.join());
    const call = await post(token, { session, body: rpc('tools/call', { name: 'calculate', arguments: { expression: '1+1' } }, 3) });
    assert.equal(call.status, 403, call.describe());
    const p = params(call.headers['www-authenticate']);
    assert.equal(p.error, 'insufficient_scope');
    assert.equal(p.scope, 'mcp math', 'all the scopes the operation needs, in one challenge');
    assert.equal(p.resource_metadata, prmUrl);
    // With the scope, the same session may call it.
    const stepped = good({ scope: 'mcp math' });
    const ok = await post(stepped, { session, body: rpc('tools/call', { name: 'calculate', arguments: { expression: '6*7' } }, 4) });
    assert.equal(ok.status, 200, ok.describe());
    assert.equal(ok.response(4).result.structuredContent.result, 42);
  });

  test('another principal presenting the session id gets 404 and learns nothing', async () => {
    const session = await open(good());
    const mallory = good({ sub: 'mallory' });
    for (const body of [rpc('tools/list', {}, 5), rpc('ping', {}, 6)]) {
      const r = await post(mallory, { session, body });
      assert.equal(r.status, 404, r.describe());
      assert.equal(r.json().error.message, 'Session not found');
    }
    const get = await request({ method: 'GET', path: '/mcp', port: bastion.port,
      headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': session, Authorization: `Bearer ${mallory}` } });
    assert.equal(get.status, 404);
    const del = await request({ method: 'DELETE', path: '/mcp', port: bastion.port,
      headers: { 'Mcp-Session-Id': session, Authorization: `Bearer ${mallory}` } });
    assert.equal(del.status, 404);
    // The owner still has it, with a fresh token of the same subject.
    const mine = await post(good(), { session, body: rpc('ping', {}, 7) });
    assert.equal(mine.status, 200, mine.describe());
  });

  test('2026-07-28 stateless requests are authorized the same way', async () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const body = rpc('tools/call', { name: 'calculate', arguments: { expression: '1+1' }, _meta: meta }, 8);
    const headers = { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'calculate' };
    const denied = await post(good({ scope: 'mcp' }), { body, headers });
    assert.equal(denied.status, 403, denied.describe());
    const allowed = await post(good({ scope: 'mcp math' }), { body, headers });
    assert.equal(allowed.status, 200, allowed.describe());
  });
});

describe('TypeScript SDK client', () => {
  test('with a token it calls tools', async () => {
    const token = good();
    const client = new Client({ name: 'e2e-auth-sdk', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    await client.connect(transport, { timeout: 15000 });
    const result = await client.callTool({ name: 'echo', arguments: { message: 'authorized' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'authorized' }]);
    await transport.terminateSession().catch(() => {});
    await client.close();
  });

  test('without a token it discovers the PRM from the 401 and names the right authorization server', async () => {
    let redirected;
    let client_info;
    const provider = {
      get redirectUrl() { return 'http://127.0.0.1:9/callback'; },
      get clientMetadata() {
        return { redirect_uris: ['http://127.0.0.1:9/callback'], client_name: 'e2e', grant_types: ['authorization_code'],
          response_types: ['code'], token_endpoint_auth_method: 'none' };
      },
      clientInformation() { return client_info; },
      saveClientInformation(info) { client_info = info; },
      tokens() { return undefined; },
      saveTokens() {},
      redirectToAuthorization(url) { redirected = url; },
      saveCodeVerifier() {},
      codeVerifier() { return 'unused'; },
    };
    const before = issuer.requests.length;
    const client = new Client({ name: 'e2e-auth-sdk', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
    await assert.rejects(client.connect(transport, { timeout: 15000 }), (e) => e instanceof UnauthorizedError);
    assert.ok(redirected, 'the SDK never reached the authorization step');
    assert.equal(`${redirected.origin}${redirected.pathname}`, `${issuer.issuer}/authorize`);
    assert.equal(redirected.searchParams.get('resource'), resource);
    assert.equal(redirected.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(issuer.requests.slice(before).some((u) => u.startsWith('/.well-known/')), 'the SDK did not read the AS metadata');
    await client.close().catch(() => {});
  });
});

describe('MCP Inspector CLI', () => {
  test('calls a tool with --header "Authorization: Bearer ..."', async () => {
    const pkg = path.join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'inspector-cli');
    const env = { ...process.env, PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}` };
    const args = [path.join(pkg, 'build', 'cli.js'), '--cli', resource, '--transport', 'http', '--header', `Authorization: Bearer ${good()}`,
      '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=inspected'];
    const r = await run(NODE22, args, { cwd: path.join(pkg, 'build'), env, timeoutMs: 60000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(JSON.parse(r.stdout).content, [{ type: 'text', text: 'inspected' }]);
  });
  test('without the header it fails', async () => {
    const pkg = path.join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'inspector-cli');
    const env = { ...process.env, PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}` };
    const args = [path.join(pkg, 'build', 'cli.js'), '--cli', resource, '--transport', 'http', '--method', 'tools/list'];
    const r = await run(NODE22, args, { cwd: path.join(pkg, 'build'), env, timeoutMs: 60000 });
    assert.notEqual(r.code, 0, describeRun(r));
  });
});

describe('issuer outage and recovery', () => {
  test('the last good keys serve until max staleness, then 503, then recovery', async () => {
    const port = issuer.port;
    await issuer.stop();
    // Fresh tokens (new jti) so the verified-token cache does not answer for the key set.
    let r = await post(good());
    assert.equal(r.status, 200, `right after the outage: ${r.describe()}`);
    let status = 200;
    for (let i = 0; i < 60 && status === 200; i++) {
      await sleep(250);
      r = await post(good());
      status = r.status;
    }
    assert.equal(status, 503, `never stopped accepting: ${r.describe()}`);
    assert.equal(r.headers['www-authenticate'], undefined);
    assert.ok(r.headers['retry-after']);
    await issuer.start(port);
    for (let i = 0; i < 60 && status !== 200; i++) {
      await sleep(250);
      status = (await post(good())).status;
    }
    assert.equal(status, 200, 'did not recover once the issuer was back');
  });
});
