#!/usr/bin/env bash
# Configures (first time only) and builds Bastion into build/ with Ninja, RelWithDebInfo.
# Incremental: a second run only rebuilds what changed. ccache is used when installed.
#
# Environment:
#   BASTION_BUILD_DIR   build folder (default: build, relative to the repo root)
#   BASTION_JOBS        parallel compile jobs (default: 2)
#   BASTION_BUILD_TYPE  CMake build type (default: RelWithDebInfo)
#   BASTION_CMAKE_ARGS  extra arguments for the first configure (word-split)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${BASTION_BUILD_DIR:-build}"
JOBS="${BASTION_JOBS:-2}"
BUILD_TYPE="${BASTION_BUILD_TYPE:-RelWithDebInfo}"

log() { printf 'build: %s\n' "$*"; }

# CMakeLists.txt compiles through ccache when it is installed. CI builds a fresh clone in another
# folder each time: with paths hashed relative to the repo root (and not the build folder's own
# path), those builds hit the cache filled by earlier ones. The price is that cached objects may
# name another clone's folder in their debug info.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  log "configuring $BUILD_DIR ($BUILD_TYPE, Ninja)"
  # shellcheck disable=SC2086
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${BASTION_CMAKE_ARGS:-}
fi

log "building with $JOBS jobs"
if command -v ccache >/dev/null 2>&1; then ccache --zero-stats >/dev/null 2>&1 || true; fi
start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$JOBS"
log "done in $(( $(date +%s) - start )) s: $BUILD_DIR/apps/bastion/bastion"
if command -v ccache >/dev/null 2>&1; then
  ccache --show-stats 2>/dev/null | grep -E -i '^[[:space:]]*(hits|misses):' | sed 's/^[[:space:]]*/build: ccache /' || true
fi
