#!/usr/bin/env bash
# Uncached bearer-token verification per core next to `openssl speed` for the same algorithms,
# measured in one run on this machine (DESIGN.md §6: prints figures, asserts nothing).
#
#   RS256 ~ rsa2048 verify/s, ES256 ~ ecdsap256 verify/s, EdDSA ~ ed25519 verify/s
#
# Both sides count CPU time of one thread (openssl speed's default; Google Benchmark's
# items_per_second). Needs: scripts/build.sh with Google Benchmark installed (libbenchmark-dev).
# Environment: BENCH_SECONDS=3 (openssl speed per algorithm), BENCH_MIN_TIME=2 (per benchmark),
#   BENCH_BIN=build/bench/bastion_auth_bench (that default is first rebuilt from the sources if they
#   changed; a binary named here is used as it is)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SECONDS_PER_ALG="${BENCH_SECONDS:-3}"
MIN_TIME="${BENCH_MIN_TIME:-2}"
BIN="${BENCH_BIN:-build/bench/bastion_auth_bench}"
# shellcheck source=bench/up_to_date.sh
source bench/up_to_date.sh
bring_up_to_date bastion_auth_bench "${BENCH_BIN:-}"
[[ -x "$BIN" ]] || { echo "bench: no $BIN: build it (cmake --build build --target bastion_auth_bench)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "bench: openssl is not installed" >&2; exit 1; }

TMP="$(mktemp -d -t bastion-auth-bench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

echo "bench: $(openssl version), $(nproc) cores; openssl speed -seconds $SECONDS_PER_ALG, benchmark min time ${MIN_TIME}s" >&2
openssl speed -seconds "$SECONDS_PER_ALG" rsa2048 ecdsap256 ed25519 >"$TMP/speed.txt" 2>/dev/null
"$BIN" --benchmark_min_time="$MIN_TIME" --benchmark_format=csv >"$TMP/bench.csv" 2>/dev/null

# openssl speed: the verify/s column is the last one of each algorithm's line.
speed_rsa="$(awk '/^rsa 2048 bits/ {print $NF}' "$TMP/speed.txt")"
speed_ec="$(awk '/ecdsa \(nistp256\)/ {print $NF}' "$TMP/speed.txt")"
speed_ed="$(awk '/EdDSA \(Ed25519\)/ {print $NF}' "$TMP/speed.txt")"
# Google Benchmark CSV: name,iterations,real_time,cpu_time,time_unit,bytes_per_second,items_per_second,...
rate() { awk -F, -v n="\"$1\"" '$1 == n {print $7}' "$TMP/bench.csv"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

echo
echo "Uncached token verification per core (one thread, CPU time)"
printf '%-7s %18s %18s %20s %10s %10s\n' alg "openssl speed/s" "EVP verify/s" "TokenVerifier/s" "vs speed" "vs EVP"
for alg in RS256 ES256 EdDSA; do
  case "$alg" in RS256) speed="$speed_rsa" ;; ES256) speed="$speed_ec" ;; EdDSA) speed="$speed_ed" ;; esac
  evp="$(rate "openssl_verify/$alg")"
  full="$(rate "verify_token/$alg")"
  printf '%-7s %18.0f %18.0f %20.0f %10s %10s\n' "$alg" "$speed" "$evp" "$full" "$(ratio "$full" "$speed")" "$(ratio "$full" "$evp")"
done
