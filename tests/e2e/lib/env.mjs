// What the end-to-end tests learn from the runner (tests/e2e/run.mjs) through the environment.
// Each test file can also be run on its own against a server started by hand:
//   BASTION_PORT=8080 BASTION_E2E_CONFIG=... node --test tests/e2e/http-transport.test.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_ROOT = path.resolve(E2E_DIR, '..', '..');

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite with tests/e2e/run.sh`);
  return value;
}

export const PORT = Number(required('BASTION_PORT'));
export const HOST = '127.0.0.1';
export const ORIGIN = `http://${HOST}:${PORT}`;
// The routes of the e2e config (run.mjs writes it): the demo module and the conformance fixtures.
export const DEMO_PATH = process.env.BASTION_DEMO_PATH || '/mcp';
export const CONFORMANCE_PATH = process.env.BASTION_CONFORMANCE_PATH || '/conformance/mcp';
export const DEMO_URL = `${ORIGIN}${DEMO_PATH}`;
export const CONFORMANCE_URL = `${ORIGIN}${CONFORMANCE_PATH}`;

export const BASTION_BIN = process.env.BASTION_BIN || path.join(REPO_ROOT, 'build', 'apps', 'bastion', 'bastion');
export const CONFIG_FILE = process.env.BASTION_E2E_CONFIG || '';
export const ARTIFACTS_DIR = process.env.BASTION_E2E_ARTIFACTS || path.join(E2E_DIR, 'artifacts');
export const NODE22 = process.env.BASTION_NODE22 || process.execPath;
// The marker line of the search_text fixture (tests/e2e/fixtures/search).
export const SEARCH_MARKER = 'bastion-e2e-needle';
