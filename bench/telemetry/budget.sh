#!/usr/bin/env bash
# Telemetry's 10% budget judged over several runs of bench/run.sh, not one.
#
# One run of `bench/run.sh` measures telemetry on against off in alternating pairs and prints, per
# figure, the median of the pairs' ratios. That median is steady within a run, but this machine's
# speed moves with phases of minutes to hours, and telemetry's cost (+2 to +3.5 us of CPU per
# request) does not shrink when the rest of the request gets faster: one build read p50 1.06x in
# one run and 1.11x in another a few minutes away (docs/telemetry-cost.md). One run is one
# sample of the machine's phases. This script takes RUNS of them, a pause apart, and prints each
# run's figures, the median of each figure over the runs, the median over every pair of every
# run, and how many runs were within the budget in every figure as printed. It prints figures
# and asserts nothing (DESIGN.md §6); its exit status says only whether the runs completed.
#
#   bench/telemetry/budget.sh [RUNS]        (default 5, at most 50)
#
# Environment: BUDGET_PAUSE=30 (seconds between runs, so that they fall in different phases),
#   BUDGET_KEEP=DIR (keep each run's full output there instead of discarding it). Every BENCH_*
#   setting of bench/run.sh passes through (BENCH_PAIRS, BENCH_CORUN_ROUNDS, ...), except
#   BENCH_TARGETS, which is always "bastion bastion-observed".
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

die() { echo "budget: $*" >&2; exit 1; }
log() { echo "budget: $*" >&2; }

RUNS="${1:-5}"
[[ $# -le 1 ]] || die "usage: bench/telemetry/budget.sh [RUNS]"
[[ "$RUNS" =~ ^[1-9][0-9]*$ && "$RUNS" -le 50 ]] || die "RUNS must be a whole number from 1 to 50, got '$RUNS'"
PAUSE="${BUDGET_PAUSE:-30}"
[[ "$PAUSE" =~ ^[0-9]+$ && "$PAUSE" -le 3600 ]] || die "BUDGET_PAUSE must be a whole number of seconds up to 3600, got '$PAUSE'"
if [[ -n "${BUDGET_KEEP:-}" ]]; then
  mkdir -p "$BUDGET_KEEP" || die "cannot create BUDGET_KEEP directory $BUDGET_KEEP"
  OUT="$BUDGET_KEEP"
else
  OUT="$(mktemp -d -t bastion-budget.XXXXXX)"
  trap 'rm -rf "$OUT"' EXIT
fi

median() {  # numbers on standard input -> their median, as bench/run.sh computes it
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The figures of one run, from run.sh's "telemetry on / off ... medians of the rounds' ratios" line:
# "<throughput> <p50> <p99> <cpu> <off us> <on us>" on stdout, each pair's ratios appended to
# $OUT/pairs.<figure>. Fails when the line is missing (run.sh's output changed, or it failed).
figures_of_run() {  # output file
  local line figure label ratio rounds values=""
  line="$(grep -m1 "^telemetry on / off (info logs" "$1")" || return 1
  for figure in throughput p50 p99 cpu; do
    label="$figure"
    [[ "$figure" == cpu ]] && label="CPU per request"
    # "<label> 1.08x (1.05 0.96 ...)" or, for CPU, "(1.05 0.96 ...; 29.0 -> 31.8 us)"
    ratio="$(sed -nE "s/.* $label ([0-9.]+)x \\(.*/\\1/p" <<<"$line")"
    rounds="$(sed -nE "s/.* $label [0-9.]+x \\(([0-9. ]*)[;)].*/\\1/p" <<<"$line")"
    [[ -n "$ratio" && -n "$rounds" ]] || return 1
    tr ' ' '\n' <<<"$rounds" | grep -E '^[0-9.]+$' >>"$OUT/pairs.$figure"
    values="$values $ratio"
  done
  local us
  us="$(sed -nE 's/.*; ([0-9.?]+) -> ([0-9.?]+) us\).*/\1 \2/p' <<<"$line")"
  [[ -n "$us" ]] || return 1
  echo "${values# } $us"
}

# The budget, as each run prints its figures: throughput at least 0.90x, p50, p99 and CPU per
# request at most 1.10x. Prints the figures over it, or nothing.
over_budget() {  # throughput p50 p99 cpu
  awk -v t="$1" -v p50="$2" -v p99="$3" -v c="$4" 'BEGIN {
    if (t + 0 < 0.90) o = o " throughput"; if (p50 + 0 > 1.10) o = o " p50"
    if (p99 + 0 > 1.10) o = o " p99"; if (c + 0 > 1.10) o = o " CPU"; sub(/^ /, "", o); print o }'
}

log "$RUNS runs of bench/run.sh (bastion, bastion-observed), ${PAUSE}s apart; each run's output in $OUT"
rm -f "$OUT/runs" "$OUT"/pairs.* "$OUT"/run-*.txt "$OUT"/run-*.log  # a kept directory from an earlier call
for run in $(seq 1 "$RUNS"); do
  if [[ "$run" -gt 1 && "$PAUSE" -gt 0 ]]; then
    log "pausing ${PAUSE}s before run $run"
    sleep "$PAUSE"
  fi
  log "run $run of $RUNS started $(date -u +%H:%M:%SZ)"
  BENCH_TARGETS="bastion bastion-observed" bench/run.sh >"$OUT/run-$run.txt" 2>"$OUT/run-$run.log" ||
    { tail -20 "$OUT/run-$run.log" >&2; die "run $run: bench/run.sh failed (its log above)"; }
  figures="$(figures_of_run "$OUT/run-$run.txt")" ||
    die "run $run: no telemetry figures in bench/run.sh's output ($OUT/run-$run.txt)"
  corun="$(grep -m1 '^telemetry on / off sharing one core' "$OUT/run-$run.txt" | sed -E 's/.*loaded at once: //; s/ \(median of rounds: [^)]*\)//; s/ \([0-9. ]*\);.*//' || true)"
  echo "$figures" >>"$OUT/runs"
  read -r t p50 p99 cpu off_us on_us <<<"$figures"
  over="$(over_budget "$t" "$p50" "$p99" "$cpu")"
  log "run $run: throughput ${t}x, p50 ${p50}x, p99 ${p99}x, CPU per request ${cpu}x (${off_us} -> ${on_us} us)${over:+; over the budget in $over}"
  printf 'run %-3s throughput %5sx   p50 %5sx   p99 %5sx   CPU per request %5sx   off -> on %5s -> %5s us per request%s%s\n' \
    "$run" "$t" "$p50" "$p99" "$cpu" "$off_us" "$on_us" "${corun:+   sharing one core: $corun}" "${over:+   over: $over}"
done

within=0
while read -r t p50 p99 cpu _; do
  if [[ -z "$(over_budget "$t" "$p50" "$p99" "$cpu")" ]]; then within=$((within + 1)); fi
done <"$OUT/runs"
column_median() { awk -v c="$1" '{ print $c }' "$OUT/runs" | grep -Ev '^\?$' | median; }
t="$(column_median 1)" p50="$(column_median 2)" p99="$(column_median 3)" cpu="$(column_median 4)"
pairs="$(wc -l <"$OUT/pairs.throughput")"
echo
echo "telemetry on / off over $RUNS runs (medians of the runs' figures): throughput ${t}x   p50 ${p50}x   p99 ${p99}x   CPU per request ${cpu}x   (off $(column_median 5) -> on $(column_median 6) us per request)"
echo "over all $pairs pairs of those runs (median of the pairs' ratios): throughput $(median <"$OUT/pairs.throughput")x   p50 $(median <"$OUT/pairs.p50")x   p99 $(median <"$OUT/pairs.p99")x   CPU per request $(median <"$OUT/pairs.cpu")x"
over="$(over_budget "$t" "$p50" "$p99" "$cpu")"
verdict="within it"
[[ -z "$over" ]] || verdict="over the budget in $over"
echo "runs within the 10% budget in every figure: $within of $RUNS; the medians over the runs: $verdict"
