// A Client ID Metadata Document server for the end-to-end tests: HTTPS on loopback with a
// throwaway certificate made by the openssl command (the SDK insists on an https client id URL,
// and the authorization server is given the certificate as its extra trust anchor).
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

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
