// A stand-in OAuth issuer for the resource-server tests: real keys (node:crypto), a JWKS and
// RFC 8414 / OpenID metadata served over real HTTP on 127.0.0.1, key rotation, and an outage
// (the server stops and comes back on the same port). Signs JWTs for every algorithm the
// resource server accepts, and the malformed ones the attack battery needs.
import crypto from 'node:crypto';
import http from 'node:http';

export const b64url = (data) => Buffer.from(data).toString('base64url');

export function generateKey(kind) {
  if (kind === 'RSA') return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (kind === 'EC') return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (kind === 'OKP') return crypto.generateKeyPairSync('ed25519');
  throw new Error(kind);
}

export function publicJwk(pair, kid) {
  return { ...pair.publicKey.export({ format: 'jwk' }), kid };
}

// Signs `input` (header.payload) with `alg` and a node KeyObject.
export function signInput(alg, privateKey, input) {
  const data = Buffer.from(input);
  switch (alg) {
    case 'RS256': return crypto.sign('sha256', data, privateKey);
    case 'RS384': return crypto.sign('sha384', data, privateKey);
    case 'PS256': return crypto.sign('sha256', data, { key: privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'ES256': return crypto.sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA': return crypto.sign(null, data, privateKey);
    default: throw new Error(`cannot sign ${alg}`);
  }
}

export function jwt(header, claims, { alg = header?.alg, key, rawHeader, rawClaims, signature } = {}) {
  const input = `${rawHeader ?? b64url(JSON.stringify(header))}.${rawClaims ?? b64url(JSON.stringify(claims))}`;
  const sig = signature !== undefined ? signature : b64url(signInput(alg, key, input));
  return `${input}.${sig}`;
}

export function hmacJwt(header, claims, secret) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const hash = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${input}.${crypto.createHmac(hash, secret).update(input).digest('base64url')}`;
}

// Serves metadata and the JWKS; `keys` is the published set (mutable: rotation).
export class FakeIssuer {
  constructor() {
    this.keys = new Map();  // kid -> { pair, alg }
    this.published = new Set();
    this.requests = [];
    this.server = null;
    this.port = 0;
    // RFC 7662: opaque token -> introspection answer, and the client credentials it requires.
    this.opaque = new Map();
    this.introspectionClient = null;  // { id, secret }
    this.introspections = 0;
  }

  addKey(kid, kind, alg, { publish = true } = {}) {
    this.keys.set(kid, { pair: generateKey(kind), alg });
    if (publish) this.published.add(kid);
  }

  get issuer() { return `http://127.0.0.1:${this.port}`; }

  jwks() {
    return { keys: [...this.published].map((kid) => ({ ...publicJwk(this.keys.get(kid).pair, kid), use: 'sig' })) };
  }

  metadata() {
    const i = this.issuer;
    return {
      issuer: i,
      jwks_uri: `${i}/jwks`,
      authorization_endpoint: `${i}/authorize`,
      token_endpoint: `${i}/token`,
      registration_endpoint: `${i}/register`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
    };
  }

  handle(req, res) {
    this.requests.push(req.url);
    const send = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/oauth-authorization-server' || req.url === '/.well-known/openid-configuration') return send(200, this.metadata());
    if (req.url === '/jwks') return send(200, this.jwks());
    if (req.url === '/introspect' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        this.introspections++;
        const c = this.introspectionClient;
        const expected = c ? `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}` : null;
        if (!c || req.headers.authorization !== expected) return send(401, { error: 'invalid_client' });
        const token = new URLSearchParams(body).get('token');
        return send(200, this.opaque.get(token) ?? { active: false });
      });
      return undefined;
    }
    if (req.url === '/register' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const meta = JSON.parse(body || '{}');
        send(201, { ...meta, client_id: 'e2e-client', client_id_issued_at: Math.floor(Date.now() / 1000) });
      });
      return undefined;
    }
    return send(404, { error: 'not_found' });
  }

  async start(port = 0) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
  }

  // An outage: nothing listens on the port any more.
  async stop() {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    this.server = null;
  }

  sign(kid, claims, headerExtra = {}) {
    const { pair, alg } = this.keys.get(kid);
    return jwt({ alg, kid, typ: 'at+jwt', ...headerExtra }, claims, { key: pair.privateKey });
  }
}
