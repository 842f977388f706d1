#!/usr/bin/env bash
# A local xraft cluster as SEPARATE PROCESSES (one per node, one proxy), for tests that kill
# nodes and for trying failover by hand. `xraft dev` runs the same cluster in one process.
#
# usage: scripts/cluster.sh COMMAND DIR [args]
#   start DIR [--nodes N] [--groups G] [--port P]   nodes + proxy (all on 127.0.0.1, free ports
#                                                   unless given), waits until healthy
#   stop DIR                     SIGTERM every process (SIGKILL after 10 s)
#   kill DIR NODE                SIGKILL node NODE (kill -9)
#   killall DIR                  SIGKILL every node at once (the proxy stays)
#   pause DIR NODE / resume DIR NODE    SIGSTOP / SIGCONT
#   restart DIR NODE             start node NODE again on its data directory
#   restartall DIR               start every node that is not running
#   status DIR                   `xraft ctl status` of the cluster
#   health DIR [TIMEOUT_S]       wait until every node answers and every group has a leader
#   leader DIR GROUP             the node id leading GROUP (from the nodes themselves)
#   group-of DIR KEY             the group (shard) KEY belongs to
#   peers DIR / port DIR         the --peers value / the proxy's RESP port
# Layout of DIR: cluster.env (settings), nodeN/ (data), nodeN.log, nodeN.pid, proxy.log, proxy.pid
# env: XRAFT_BIN (default target/release/xraft)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

usage() { sed -n '2,20p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
bin=$(xraft_bin)

load_env() {
  [ -f "$dir/cluster.env" ] || die "$dir/cluster.env missing: run 'scripts/cluster.sh start $dir' first"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
}

node_pid() { cat "$dir/node$1.pid" 2>/dev/null || true; }
# Alive and not a zombie (a killed node is reaped by whoever adopted it, maybe late).
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
running() { local p; p=$(node_pid "$1"); [ -n "$p" ] && alive "$p"; }

start_node() {
  local n=$1
  if running "$n"; then log "node $n already running (pid $(node_pid "$n"))"; return 0; fi
  mkdir -p "$dir/node$n"
  "$bin" node --id "$n" --dir "$dir/node$n" --peers "$PEERS" --groups "$SHARDS" \
    --replication "$REPLICATION" >>"$dir/node$n.log" 2>&1 &
  echo $! >"$dir/node$n.pid"
  track_pid $!
  XRAFT_OWN_PIDS=()  # the node outlives this script; `stop` ends it
  log "node $n started (pid $!)"
}

signal_node() {
  local sig=$1 n=$2 p
  p=$(node_pid "$n")
  [ -n "$p" ] || die "no pid for node $n"
  kill "-$sig" "$p" 2>/dev/null || log "node $n (pid $p) was not running"
  if [ "$sig" = KILL ]; then
    while alive "$p"; do sleep 0.01; done
    forget_pid "$p"
  fi
}

wait_health() {
  local timeout=${1:-60} i=0 n
  while [ "$i" -lt $((timeout * 10)) ]; do
    for ((n = 1; n <= NODES; n++)); do
      if [ -n "$(node_pid "$n")" ] && ! running "$n"; then
        log "node $n exited; last lines of $dir/node$n.log:"; tail -n 15 "$dir/node$n.log" >&2
        return 1
      fi
    done
    if "$bin" ctl --peers "$PEERS" --timeout-ms 500 health >/dev/null 2>&1; then return 0; fi
    sleep 0.1; i=$((i + 1))
  done
  "$bin" ctl --peers "$PEERS" --timeout-ms 500 health >&2 || true
  return 1
}

case "$cmd" in
  start)
    nodes=3 groups=3 port=
    while [ $# -gt 0 ]; do
      case "$1" in
        --nodes) nodes=$2; shift 2 ;;
        --groups) groups=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        *) usage ;;
      esac
    done
    [ -x "$bin" ] || die "xraft binary not found at $bin (cargo build --release -p xraft, or set XRAFT_BIN)"
    mkdir -p "$dir"
    if [ ! -f "$dir/cluster.env" ]; then
      peers=()
      for ((n = 1; n <= nodes; n++)); do peers+=("$n=$XRAFT_HOST:$(free_port)"); done
      replication=$((nodes < 3 ? nodes : 3))
      {
        printf 'PEERS=%q\n' "$(IFS=,; echo "${peers[*]}")"
        printf 'NODES=%q\nSHARDS=%q\nREPLICATION=%q\nPROXY_PORT=%q\n' \
          "$nodes" "$groups" "$replication" "${port:-$(free_port)}"
      } >"$dir/cluster.env"
    fi
    load_env
    for ((n = 1; n <= NODES; n++)); do start_node "$n"; done
    if ! [ -f "$dir/proxy.pid" ] || ! kill -0 "$(cat "$dir/proxy.pid")" 2>/dev/null; then
      "$bin" proxy --bind "$XRAFT_HOST" --port "$PROXY_PORT" --peers "$PEERS" --groups "$SHARDS" \
        --replication "$REPLICATION" >>"$dir/proxy.log" 2>&1 &
      echo $! >"$dir/proxy.pid"
      track_pid $!
      XRAFT_OWN_PIDS=()
      log "proxy started on $XRAFT_HOST:$PROXY_PORT (pid $!)"
    fi
    wait_health 60 || die "the cluster did not become healthy (logs in $dir)"
    wait_for_ping "$PROXY_PORT" 30 "$(cat "$dir/proxy.pid")" || die "the proxy does not answer"
    log "cluster up: proxy $XRAFT_HOST:$PROXY_PORT, peers $PEERS"
    ;;
  stop)
    load_env
    for f in "$dir"/node*.pid "$dir"/proxy.pid; do
      [ -e "$f" ] || continue
      stop_pid "$(cat "$f")"
      rm -f "$f"
    done
    ;;
  kill) load_env; signal_node KILL "$1" ;;
  killall)
    load_env
    for ((n = 1; n <= NODES; n++)); do
      p=$(node_pid "$n"); [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    done
    for ((n = 1; n <= NODES; n++)); do
      p=$(node_pid "$n"); [ -n "$p" ] || continue
      while alive "$p"; do sleep 0.01; done
      forget_pid "$p"
    done
    ;;
  pause) load_env; signal_node STOP "$1" ;;
  resume) load_env; signal_node CONT "$1" ;;
  restart) load_env; start_node "$1" ;;
  restartall) load_env; for ((n = 1; n <= NODES; n++)); do start_node "$n"; done ;;
  status) load_env; "$bin" ctl --peers "$PEERS" status "$@" ;;
  health) load_env; wait_health "${1:-60}" ;;
  leader) load_env; "$bin" ctl --peers "$PEERS" --timeout-ms 500 leader --group "$1" | cut -d' ' -f1 ;;
  group-of) load_env; "$bin" ctl --peers "$PEERS" group-of --groups "$SHARDS" --replication "$REPLICATION" "$1" ;;
  peers) load_env; echo "$PEERS" ;;
  port) load_env; echo "$PROXY_PORT" ;;
  *) usage ;;
esac
