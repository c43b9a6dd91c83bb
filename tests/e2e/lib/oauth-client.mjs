// The client side of a real OAuth login for the end-to-end tests: an OAuthClientProvider for the
// official TypeScript SDK that keeps its state in memory, a loopback callback listener that
// receives the authorization response, and an HTTPS server on loopback that serves a Client ID
// Metadata Document with a throwaway certificate made by the openssl command.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

// OAuthClientProvider (SDK client/auth.d.ts). `authorize(url)` is the person: it opens the URL in
// a browser, signs in, approves, and resolves with the authorization response's query.
export class MemoryOAuthProvider {
  constructor({ redirectUrl, clientName = 'Bastion e2e client', scope, clientMetadataUrl }) {
    this._redirectUrl = redirectUrl;
    this._clientName = clientName;
    this._scope = scope;
    this.clientMetadataUrl = clientMetadataUrl;
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this.authorizationUrls = [];
    this.registrations = 0;
    // When set, tokens() hides the refresh token, so the SDK starts a new authorization instead
    // of refreshing (a refresh cannot widen scopes, RFC 6749 §6): how a client steps up.
    this.forceNewAuthorization = false;
  }

  get redirectUrl() { return this._redirectUrl; }

  get clientMetadata() {
    return {
      client_name: this._clientName,
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this._scope ? { scope: this._scope } : {}),
    };
  }

  clientInformation() { return this._client; }
  saveClientInformation(info) {
    this.registrations += 1;
    this._client = info;
  }
  tokens() {
    if (!this._tokens) return undefined;
    if (this.forceNewAuthorization) {
      const { refresh_token: _hidden, ...rest } = this._tokens;
      return rest;
    }
    return this._tokens;
  }
  saveTokens(tokens) { this._tokens = tokens; }
  rawTokens() { return this._tokens; }
  redirectToAuthorization(url) { this.authorizationUrls.push(new URL(url)); }
  saveCodeVerifier(verifier) { this._verifier = verifier; }
  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }
}

// A loopback listener for the redirect URI. `next()` resolves with the query of the next request
// to /callback (the browser lands there at the end of the flow).
export async function startCallbackServer() {
  const waiting = [];
  const arrived = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Signed in</title><p>You can close this window.</p>');
    const params = Object.fromEntries(url.searchParams);
    const waiter = waiting.shift();
    if (waiter) waiter(params);
    else arrived.push(params);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    redirectUrl: `http://127.0.0.1:${port}/callback`,
    next: () => (arrived.length ? Promise.resolve(arrived.shift()) : new Promise((resolve) => waiting.push(resolve))),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// A self-signed certificate for "localhost" (and 127.0.0.1) made by the openssl command into
// `dir`; returns the PEM paths.
export function makeLocalhostCertificate(dir) {
  const key = path.join(dir, 'cimd-key.pem');
  const cert = path.join(dir, 'cimd-cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { key, cert };
}

// Serves Client ID Metadata Documents over HTTPS on loopback. `documents` maps a path to a
// function (the document's own URL) -> JSON object; requests are counted per path.
export async function startMetadataDocumentServer({ dir, documents }) {
  const { key, cert } = makeLocalhostCertificate(dir);
  const hits = {};
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    const url = new URL(req.url, 'https://localhost');
    const make = documents[url.pathname];
    hits[url.pathname] = (hits[url.pathname] || 0) + 1;
    if (!make) {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.stringify(make(`https://localhost:${server.address().port}${url.pathname}`));
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    caFile: cert,
    url: (p) => `https://localhost:${port}${p}`,
    hits,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
