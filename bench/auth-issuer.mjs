// bench/run.sh (target bastion-auth): a stand-in issuer on 127.0.0.1 serving metadata and a JWKS
// (tests/e2e/lib/issuer.mjs), and one EdDSA access token for the benchmark's requests. The
// token's audience is the configured extra audience of the benchmark route, so it can be
// signed before bastion's port is known.
//   node bench/auth-issuer.mjs --port-file F --token-file T --audience A
import fs from 'node:fs';
import { FakeIssuer } from '../tests/e2e/lib/issuer.mjs';

const arg = (name) => {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing ${name}`);
  return process.argv[i + 1];
};

const issuer = new FakeIssuer();
issuer.addKey('bench', 'OKP', 'EdDSA');
await issuer.start();
const now = Math.floor(Date.now() / 1000);
const token = issuer.sign('bench', {
  iss: issuer.issuer, sub: 'bench-user', aud: arg('--audience'), exp: now + 3 * 3600, iat: now,
  scope: 'mcp', client_id: 'bench',
});
fs.writeFileSync(arg('--token-file'), token);
fs.writeFileSync(arg('--port-file'), String(issuer.port));
process.on('SIGTERM', async () => {
  await issuer.stop();
  process.exit(0);
});
