#!/usr/bin/env bash
# Two builds of bench/telemetry/request_bench.cpp compared on what telemetry costs one request
# with cold caches (BENCH_EVICT_KIB, default 512): the figure is parts:7 (everything on) minus
# parts:0 (the eviction alone), per build. This machine's speed drifts by more than most changes
# are worth, so the builds run in alternation on one core, ROUNDS times, and the script prints
# the median of the per-round differences. An A/A run (the same binary twice) shows the noise:
# on the 2-core development machine 16 rounds agree within about 50 ns. Prints figures; asserts
# nothing (DESIGN.md §6).
#
#   bench/telemetry/compare.sh BASELINE_BIN CANDIDATE_BIN
#
# To get a baseline binary, build the bench target in a worktree of the older commit, e.g.
#   git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/base/build --target bastion_telemetry_bench
# Environment: ROUNDS=16, BENCH_MIN_TIME=0.3 (seconds per benchmark and round),
#   BENCH_EVICT_KIB=512, BENCH_CPU=0 (the core both run on).
set -euo pipefail

die() { echo "compare: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: bench/telemetry/compare.sh BASELINE_BIN CANDIDATE_BIN"
BASELINE="$1"
CANDIDATE="$2"
for bin in "$BASELINE" "$CANDIDATE"; do
  [[ -x "$bin" ]] || die "$bin is not an executable bench binary (bastion_telemetry_bench)"
done
command -v taskset >/dev/null 2>&1 || die "taskset is not installed (Debian util-linux)"
ROUNDS="${ROUNDS:-16}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
EVICT="${BENCH_EVICT_KIB:-512}"
CPU="${BENCH_CPU:-0}"
TMP="$(mktemp -d -t bastion-telemetry-compare.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

# One round of one build: parts:7 minus parts:0 in CPU ns per request.
telemetry_cost() {
  BENCH_EVICT_KIB="$EVICT" taskset -c "$CPU" "$1" --benchmark_min_time="${BENCH_MIN_TIME:-0.3}" \
    --benchmark_filter='parts:(0|7)/' 2>"$TMP/request-lines.log" |
    awk '/^BM_Request\/parts:0\// { off = $4 } /^BM_Request\/parts:7\// { on = $4 }
         END { if (off == "" || on == "") exit 1; printf "%.0f\n", on - off }'
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "compare: $ROUNDS alternating rounds on cpu $CPU, $EVICT KiB evicted per request" >&2
: >"$TMP/rounds"
for round in $(seq 1 "$ROUNDS"); do
  a="$(telemetry_cost "$BASELINE")" || die "round $round: $BASELINE printed no parts:0/parts:7 figures"
  b="$(telemetry_cost "$CANDIDATE")" || die "round $round: $CANDIDATE printed no parts:0/parts:7 figures"
  echo "$a $b" >>"$TMP/rounds"
  echo "compare: round $round: baseline $a ns, candidate $b ns" >&2
done
if [[ "$EVICT" == 0 ]]; then caches="warm caches"; else caches="cold caches ($EVICT KiB evicted per request)"; fi
echo "telemetry with $caches, ns per request (parts:7 - parts:0):"
echo "  baseline  median $(awk '{ print $1 }' "$TMP/rounds" | median)"
echo "  candidate median $(awk '{ print $2 }' "$TMP/rounds" | median)"
echo "  candidate - baseline, median of rounds: $(awk '{ print $2 - $1 }' "$TMP/rounds" | median) ns"
