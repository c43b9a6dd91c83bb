#!/usr/bin/env bash
# The README's second command: the whole test suite on one build.
#   1. scripts/setup.sh   Debian packages and the pinned npm clients (skipped when present)
#   2. scripts/build.sh   one build in build/ (incremental)
#   3. unit tests         ctest on build/ (build/tests/bastion_unit_tests, GoogleTest)
#   4. end-to-end         tests/e2e/run.sh: the real binary against the TypeScript SDK client,
#                         the MCP Inspector CLI, the official conformance suite and HTTP checks
# Prints a summary; the last line is "total: N passed, M failed". Exits non-zero on any failure.
#
# Environment:
#   BASTION_SKIP_UNIT=1 / BASTION_SKIP_E2E=1   leave a stage out
#   BASTION_E2E_ARGS="--only sdk,http"          arguments for tests/e2e/run.sh
#   BASTION_JOBS                                 build and ctest parallelism (default 2)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

BUILD_DIR="${BASTION_BUILD_DIR:-build}"
JOBS="${BASTION_JOBS:-2}"
LOG_DIR="$BUILD_DIR/test-logs"
export BASTION_BIN="$ROOT/$BUILD_DIR/apps/bastion/bastion"

stages=()   # "name|status|seconds|detail"
total_passed=0
total_failed=0

now() { date +%s; }
add_stage() { stages+=("$1|$2|$3|$4"); }
banner() { printf '\n==== %s ====\n' "$*"; }

# Adds a test stage's counts to the totals. A non-zero exit without a counted failure (a crash,
# a test-discovery error) still counts as one failure.
record_stage() {  # name exit-code passed failed start-time label
  local name=$1 rc=$2 passed=$3 failed=$4 started=$5 label=$6
  if (( rc != 0 && failed == 0 )); then failed=1; fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  add_stage "$name" "$([[ $rc == 0 ]] && echo PASS || echo FAIL)" $(( $(now) - started )) "$label: ${passed} passed, ${failed} failed"
}

summary() {
  banner "summary"
  for s in "${stages[@]}"; do
    IFS='|' read -r name status secs detail <<<"$s"
    printf '%-6s %-8s %5ss  %s\n' "$status" "$name" "$secs" "$detail"
  done
  echo "total: ${total_passed} passed, ${total_failed} failed"
}

# ---- 1. setup -------------------------------------------------------------------------------------
banner "setup"
t=$(now)
if scripts/setup.sh; then
  add_stage setup PASS $(( $(now) - t )) "packages and tests/e2e/node_modules ready"
else
  add_stage setup FAIL $(( $(now) - t )) "scripts/setup.sh failed"
  total_failed=$((total_failed + 1))
  summary
  exit 1
fi

# ---- 2. build -------------------------------------------------------------------------------------
banner "build"
t=$(now)
if BASTION_BUILD_DIR="$BUILD_DIR" BASTION_JOBS="$JOBS" scripts/build.sh; then
  add_stage build PASS $(( $(now) - t )) "$BUILD_DIR/apps/bastion/bastion"
else
  add_stage build FAIL $(( $(now) - t )) "scripts/build.sh failed"
  total_failed=$((total_failed + 1))
  summary
  exit 1
fi
mkdir -p "$LOG_DIR"

# ---- 3. unit tests --------------------------------------------------------------------------------
if [[ "${BASTION_SKIP_UNIT:-0}" == "1" ]]; then
  add_stage unit SKIP 0 "BASTION_SKIP_UNIT=1"
else
  banner "unit tests (ctest)"
  t=$(now)
  ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j "$JOBS" --timeout 300 2>&1 | tee "$LOG_DIR/ctest.log"
  rc=${PIPESTATUS[0]}
  line="$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$LOG_DIR/ctest.log" | tail -1)"
  if [[ -n "$line" ]]; then
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    count=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((count - failed))
  else
    passed=0
    failed=1
  fi
  record_stage unit "$rc" "$passed" "$failed" "$t" ctest
fi

# ---- 4. end-to-end --------------------------------------------------------------------------------
if [[ "${BASTION_SKIP_E2E:-0}" == "1" ]]; then
  add_stage e2e SKIP 0 "BASTION_SKIP_E2E=1"
else
  banner "end-to-end (tests/e2e/run.sh)"
  t=$(now)
  # shellcheck disable=SC2086
  tests/e2e/run.sh ${BASTION_E2E_ARGS:-} 2>&1 | tee "$LOG_DIR/e2e.log"
  rc=${PIPESTATUS[0]}
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG_DIR/e2e.log" | tail -1)"
  if [[ -n "$line" ]]; then
    passed=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    failed=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  else
    passed=0
    failed=1
  fi
  record_stage e2e "$rc" "$passed" "$failed" "$t" e2e
fi

summary
(( total_failed == 0 ))
