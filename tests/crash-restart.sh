#!/usr/bin/env bash
# kill -9 / restart durability test: 100k XADDs over s0..s9 from concurrent connections plus
# XREADGROUP/XACK consumers; the server is killed with SIGKILL at a random 50-70% of the
# acknowledged writes, restarted on the same data dir, and every acknowledged XADD, the PEL and
# the group state are verified (tests/crash_restart.py does the work; see its docstring).
#
# usage: tests/crash-restart.sh [extra crash_restart.py options, e.g. --total 20000 --seed 7]
# env:
#   XRAFT_BIN=path            broker binary (default target/release/xraft)
#   XRAFT_SUITE_TARGET=redis  test redis-server --appendonly yes --appendfsync always instead
#                             (XRAFT_REDIS_SERVER=path picks the binary)
#   XRAFT_SERVER_CMD='cmd ... {port} ... {dir}'   any other server command line
#   XRAFT_CRASH_KEEP_LOGS=1   keep the temp dir (ack logs, server log) even on success
#   XRAFT_CRASH_TIMEOUT=secs  overall limit (default 900)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

command -v python3 >/dev/null || die "python3 missing"
target=${XRAFT_SUITE_TARGET:-xraft}
if [ -n "${XRAFT_SERVER_CMD:-}" ]; then
  server_cmd=$XRAFT_SERVER_CMD
elif [ "$target" = xraft ]; then
  bin=$(xraft_bin)
  [ -x "$bin" ] || die "xraft binary not found at $bin (cargo build --release -p xraft, or set XRAFT_BIN)"
  server_cmd="$(printf '%q' "$bin") server --bind $XRAFT_HOST --port {port} --dir {dir}"
elif [ "$target" = redis ]; then
  server_cmd="$(printf '%q' "$(redis_server_bin)") --bind $XRAFT_HOST --port {port} --dir {dir} --save '' --appendonly yes --appendfsync always --daemonize no"
else
  die "XRAFT_SUITE_TARGET must be xraft or redis"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xraft-crash.XXXXXX")
piddir=$work/pids
mkdir -p "$piddir" "$work/data"
runner_pid=
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  if [ -n "$runner_pid" ]; then kill -TERM "$runner_pid" 2>/dev/null || true; wait "$runner_pid" 2>/dev/null || true; fi
  reap_piddir "$piddir"
  if [ "${XRAFT_CRASH_KEEP_LOGS:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    log "logs kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(free_port)
# In the background (and waited for) so that a signal reaches the trap at once; the checker stops
# its server on SIGTERM, and whatever is left is reaped from the pid dir.
set +e
XRAFT_PIDDIR=$piddir timeout --kill-after=10 "${XRAFT_CRASH_TIMEOUT:-900}" \
  python3 -u tests/crash_restart.py --port "$port" --dir "$work/data" --workdir "$work" \
  --server-cmd "$server_cmd" "$@" &
runner_pid=$!
wait "$runner_pid"
rc=$?
runner_pid=
set -e
[ "$rc" -ne 124 ] || log "crash-restart test TIMED OUT after ${XRAFT_CRASH_TIMEOUT:-900}s"
exit "$rc"
