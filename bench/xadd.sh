#!/usr/bin/env bash
# XADD throughput benchmark (not a test): redis-server with AOF fsync'ed on every write
# (--appendonly yes --appendfsync always --save '') versus xraft (which fsyncs every write),
# each on its own loopback port and temp data dir, measured with redis-benchmark:
#   redis-benchmark -c 50 -n 200000 -P {1,16} --csv XADD s '*' f v
# Prints requests/s, p50 and p99 latency per server and pipeline depth, and the ratio xraft/redis.
# If the xraft binary is missing, only redis is measured (with a clear message).
#
# usage: bench/xadd.sh            (single-node xraft server vs redis)
#        bench/cluster.sh         (xraft dev: 3 nodes + proxy, 16 streams, vs redis)
# env: BENCH_TARGET=server|cluster (default server), BENCH_KEYS=1|N (N streams s{0..N-1} via
#      redis-benchmark -r; default 1, cluster.sh uses 16), XRAFT_BIN (default target/release/xraft), XRAFT_REDIS_SERVER (default: the Redis 8.0.2
#      built by scripts/build-redis.sh if present, else redis-server on PATH),
#      BENCH_CLIENTS=50 BENCH_REQUESTS=200000 BENCH_PIPELINES="1 16" BENCH_TIMEOUT=900 (per run)
#      BENCH_ROUNDS=3 (runs per server and depth, interleaved; the median by requests/s is shown)
#      BENCH_GROUPS=N (cluster only: `xraft dev --groups N` instead of its default of 3 groups;
#      fewer groups pack more commands into each Raft entry, see README "Performance")
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

clients=${BENCH_CLIENTS:-50}
requests=${BENCH_REQUESTS:-200000}
read -r -a pipelines <<<"${BENCH_PIPELINES:-1 16}"
rounds=${BENCH_ROUNDS:-3}
target_kind=${BENCH_TARGET:-server}
case "$target_kind" in server) kind=xraft ;; cluster) kind=cluster ;; *) die "BENCH_TARGET must be server or cluster" ;; esac
nkeys=${BENCH_KEYS:-1}
if [ "$nkeys" -gt 1 ]; then
  key_args=(-r "$nkeys" XADD 's{__rand_int__}' '*' f v)
  key_desc="XADD s{0..$((nkeys - 1))} * f v"
else
  key_args=(XADD s '*' f v)
  key_desc="XADD s * f v"
fi
command -v redis-benchmark >/dev/null || die "redis-benchmark missing: apt-get install -y redis-tools"

work=$(mktemp -d "${TMPDIR:-/tmp}/xraft-bench.XXXXXX")
cleanup() {
  local rc=$?
  stop_all_tracked
  if [ "$rc" -ne 0 ]; then log "logs kept in $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

targets=()
declare -A port
mkdir -p "$work/redis" "$work/xraft"
port[redis]=$(free_port)
start_server redis-aof "${port[redis]}" "$work/redis" "$work/redis.log"
targets+=(redis)
redis_version=$("$(redis_server_bin)" --version | grep -o 'v=[^ ]*')

bin=$(xraft_bin)
if [ -x "$bin" ]; then
  port[xraft]=$(free_port)
  extra=()
  if [ "$kind" = cluster ] && [ -n "${BENCH_GROUPS:-}" ]; then extra=(--groups "$BENCH_GROUPS"); fi
  start_server "$kind" "${port[xraft]}" "$work/xraft" "$work/xraft.log" "${extra[@]}"
  targets+=(xraft)
else
  log "xraft binary not found at $bin: measuring redis only (cargo build --release -p xraft, or set XRAFT_BIN)"
fi

declare -A rps p50 p99 runs
for P in "${pipelines[@]}"; do
  for ((round = 1; round <= rounds; round++)); do
    for t in "${targets[@]}"; do   # interleaved, so that drift on the machine hits both alike
      rcli "${port[$t]}" FLUSHALL >/dev/null
      log "round $round/$rounds: redis-benchmark -c $clients -n $requests -P $P $key_desc  -> $t ($target_kind)"
      out=$(timeout "${BENCH_TIMEOUT:-900}" redis-benchmark -h "$XRAFT_HOST" -p "${port[$t]}" \
        -c "$clients" -n "$requests" -P "$P" --csv "${key_args[@]}") || die "redis-benchmark against $t failed"
      # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
      line=$(grep -v '^"test"' <<<"$out" | tail -n 1 | tr -d '"')
      IFS=, read -r _name r _avg _min q50 _q95 q99 _max <<<"$line"
      log "  $t: $r requests/s, p50 $q50 ms, p99 $q99 ms"
      runs[$t,$P]+="$r $q50 $q99"$'\n'
      if [ "$nkeys" -eq 1 ]; then
        len=$(rcli "${port[$t]}" XLEN s)
        [ "$len" -eq "$requests" ] || log "WARNING: $t has XLEN s = $len, expected $requests"
      fi
    done
  done
  for t in "${targets[@]}"; do
    # The median run by requests/s (with its own latencies).
    read -r m_rps m_p50 m_p99 < <(printf '%s' "${runs[$t,$P]}" | sort -g -k1,1 | sed -n "$(((rounds + 1) / 2))p")
    rps[$t,$P]=$m_rps; p50[$t,$P]=$m_p50; p99[$t,$P]=$m_p99
  done
done

echo
echo "$key_desc, xraft $target_kind${BENCH_GROUPS:+ (--groups $BENCH_GROUPS)}, $clients clients, $requests requests, median of $rounds; redis $redis_version (appendonly yes, appendfsync always)"
printf '%-4s %-6s %14s %10s %10s\n' P server requests/s p50_ms p99_ms
for P in "${pipelines[@]}"; do
  for t in "${targets[@]}"; do
    printf '%-4s %-6s %14s %10s %10s\n' "$P" "$t" "${rps[$t,$P]}" "${p50[$t,$P]}" "${p99[$t,$P]}"
  done
done
for P in "${pipelines[@]}"; do
  if [ -n "${rps[xraft,$P]:-}" ]; then
    printf 'ratio xraft/redis at -P %s: %s\n' "$P" \
      "$(python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "${rps[xraft,$P]}" "${rps[redis,$P]}")"
  else
    printf 'ratio xraft/redis at -P %s: n/a (xraft not measured)\n' "$P"
  fi
done
