#!/usr/bin/env bash
# What one request's telemetry costs, by part, on this machine (bench/telemetry/request_bench.cpp):
# process CPU time per request and heap allocations per request, for telemetry off (the
# baseline, parts:0), the request line (1), metrics (2), tracing at the sample ratio (4) and
# all three (7). Prints figures; asserts nothing (DESIGN.md §6).
#
# Needs: scripts/build.sh with Google Benchmark installed (libbenchmark-dev).
# Environment: BENCH_MIN_TIME=2 (seconds per benchmark), BENCH_SAMPLE_RATIO=0.1,
#   BENCH_EVICT_KIB=0 (KiB of other memory written before each request: cold caches, as in a
#   loaded server), BENCH_BIN=build/bench/bastion_telemetry_bench (that default is first rebuilt
#   from the sources if they changed; a binary named here is used as it is)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN="${BENCH_BIN:-build/bench/bastion_telemetry_bench}"
# shellcheck source=bench/up_to_date.sh
source bench/up_to_date.sh
bring_up_to_date bastion_telemetry_bench "${BENCH_BIN:-}"
[[ -x "$BIN" ]] || { echo "bench: no $BIN: build it (cmake --build build --target bastion_telemetry_bench)" >&2; exit 1; }
TMP="$(mktemp -d -t bastion-telemetry-bench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

echo "bench: $(nproc) cores, trace sample ratio ${BENCH_SAMPLE_RATIO:-0.1}, ${BENCH_EVICT_KIB:-0} KiB evicted per request; request lines go to a file" >&2
BENCH_SAMPLE_RATIO="${BENCH_SAMPLE_RATIO:-0.1}" "$BIN" --benchmark_min_time="${BENCH_MIN_TIME:-2}" 2>"$TMP/request-lines.log"
echo "bench: $(wc -l <"$TMP/request-lines.log") request lines written" >&2
