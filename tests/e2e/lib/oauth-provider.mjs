// An OAuthClientProvider for the TypeScript SDK (v1 `auth()`, `StreamableHTTPClientTransport`'s
// `authProvider`) whose "user" is headless Chromium: redirectToAuthorization() signs in and
// approves through lib/browser-login.mjs and keeps the authorization code for finishAuth().
//
//   const provider = new BrowserOAuthProvider({ username: 'admin', password, artifactsDir, name: 'sdk' });
//   const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
//   await client.connect(transport).catch((e) => { if (!(e instanceof UnauthorizedError)) throw e; });
//   await transport.finishAuth(provider.authorizationCode);   // then connect again with a new transport
//
// State lives in memory (one provider per test). The redirect URI is on a closed loopback port:
// the browser records the redirect, nothing needs to listen there.
import { browserSignIn } from './browser-login.mjs';

export class BrowserOAuthProvider {
  constructor({
    username, password, artifactsDir, name = 'sdk', redirectUrl = 'http://127.0.0.1:9/sdk-callback',
    clientMetadata = {}, clientInformation = undefined, alwaysSendResource = false, decision = 'approve',
  }) {
    this.signIn = { username, password, artifactsDir, name, decision };
    this._redirectUrl = redirectUrl;
    this._clientMetadata = {
      client_name: 'Bastion e2e SDK client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...clientMetadata,
    };
    this._clientInformation = clientInformation;
    this._tokens = undefined;
    this._codeVerifier = undefined;
    this._discovery = undefined;
    this.authorizationCode = undefined;
    this.lastSignIn = undefined;  // {callbackUrl, params, screenshots, consoleMessages}
    this.redirects = 0;
    // Without Protected Resource Metadata the SDK sends no `resource`; Bastion's authorization
    // server requires one (RFC 8707), so a test talking to it without a resource server can ask
    // for the server URL to be sent anyway.
    if (alwaysSendResource) {
      this.validateResourceURL = async (serverUrl, resource) => new URL(resource ?? serverUrl);
    }
  }

  get redirectUrl() { return this._redirectUrl; }
  get clientMetadata() { return this._clientMetadata; }
  clientInformation() { return this._clientInformation; }
  saveClientInformation(info) { this._clientInformation = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  saveCodeVerifier(verifier) { this._codeVerifier = verifier; }
  codeVerifier() {
    if (!this._codeVerifier) throw new Error('no code verifier saved');
    return this._codeVerifier;
  }
  saveDiscoveryState(state) { this._discovery = state; }
  discoveryState() { return this._discovery; }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
  }

  async redirectToAuthorization(authorizationUrl) {
    this.redirects++;
    const r = await browserSignIn(String(authorizationUrl), {
      ...this.signIn,
      name: `${this.signIn.name}-${this.redirects}`,
      interceptPrefix: this._redirectUrl,
    });
    this.lastSignIn = r;
    if (r.params.error) throw new Error(`authorization refused: ${r.params.error} ${r.params.error_description ?? ''}`);
    this.authorizationCode = r.params.code;
  }
}
