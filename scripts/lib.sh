# shellcheck shell=bash
# Helpers shared by scripts/*.sh and bench/*.sh. Source it; do not run it.
#
# Environment understood here (all optional):
#   XRAFT_BIN            the broker binary (default: $CARGO_TARGET_DIR or target, /release/xraft)
#   XRAFT_REDIS_SERVER   the reference redis-server (default: a Redis 8.0.2 built by
#                        scripts/build-redis.sh if present, else redis-server on PATH)
#   XRAFT_PIDDIR         a directory where every server started by these scripts leaves
#                        its pid, so an outer script (scripts/test.sh) can reap them
#
# Everything listens on 127.0.0.1 only.

XRAFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export XRAFT_ROOT
XRAFT_TARGET_DIR=${CARGO_TARGET_DIR:-$XRAFT_ROOT/target}
case "$XRAFT_TARGET_DIR" in /*) ;; *) XRAFT_TARGET_DIR=$XRAFT_ROOT/$XRAFT_TARGET_DIR ;; esac
export XRAFT_TARGET_DIR
XRAFT_HOST=127.0.0.1

XRAFT_SUITE_VERSION=8.0

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

banner() {
  printf '\n==============================================================================\n' >&2
  printf '== %s\n' "$*" >&2
  printf '==============================================================================\n' >&2
}

# A free TCP port on 127.0.0.1 (the kernel's choice; a tiny race is acceptable for tests).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

xraft_bin() { printf '%s\n' "${XRAFT_BIN:-$XRAFT_TARGET_DIR/release/xraft}"; }

redis_server_bin() {
  if [ -n "${XRAFT_REDIS_SERVER:-}" ]; then printf '%s\n' "$XRAFT_REDIS_SERVER"; return; fi
  local built=$XRAFT_TARGET_DIR/redis-$XRAFT_SUITE_VERSION-build/src/redis-server
  if [ -x "$built" ]; then printf '%s\n' "$built"; return; fi
  command -v redis-server || die "redis-server not found (apt-get install -y redis-server)"
}

# `redis-cli` that talks to our loopback port only.
rcli() { local port=$1; shift; redis-cli -h "$XRAFT_HOST" -p "$port" "$@"; }

# Wait until HOST:PORT answers PING with PONG. Fails early if PID (optional) died.
wait_for_ping() {
  local port=$1 timeout=${2:-30} pid=${3:-} i=0
  while [ "$i" -lt $((timeout * 10)) ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log "server (pid $pid) exited before answering PING on port $port"; return 1
    fi
    if [ "$(redis-cli -h "$XRAFT_HOST" -p "$port" PING 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.1; i=$((i + 1))
  done
  log "no PONG from $XRAFT_HOST:$port after ${timeout}s"; return 1
}

# --- background server bookkeeping -------------------------------------------------------------
XRAFT_OWN_PIDS=()
track_pid() {
  XRAFT_OWN_PIDS+=("$1")
  if [ -n "${XRAFT_PIDDIR:-}" ] && [ -d "$XRAFT_PIDDIR" ]; then : > "$XRAFT_PIDDIR/$1"; fi
}
# Stop one server by pid: SIGTERM, then SIGKILL after a grace period.
stop_pid() {
  local pid=$1 i=0
  kill -0 "$pid" 2>/dev/null || { forget_pid "$pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}
forget_pid() {
  if [ -n "${XRAFT_PIDDIR:-}" ]; then rm -f "$XRAFT_PIDDIR/$1"; fi
}
stop_all_tracked() {
  local pid
  for pid in "${XRAFT_OWN_PIDS[@]}"; do stop_pid "$pid"; done
  XRAFT_OWN_PIDS=()
}
# Reap every pid left in XRAFT_PIDDIR (used by the outermost script's trap).
reap_piddir() {
  local dir=${1:-${XRAFT_PIDDIR:-}} f pid
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    pid=${f##*/}
    case "$pid" in *[!0-9]*) continue ;; esac
    if kill -0 "$pid" 2>/dev/null; then log "reaping leftover server pid $pid"; kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$f"
  done
}

# start_server KIND PORT DIR LOGFILE [extra args...]   -> sets SERVER_PID
#   KIND = xraft | redis (no persistence) | redis-aof (appendonly, appendfsync always)
start_server() {
  local kind=$1 port=$2 dir=$3 logf=$4; shift 4
  local cmd
  case "$kind" in
    xraft)
      local bin; bin=$(xraft_bin)
      [ -x "$bin" ] || die "xraft binary not found at $bin (cargo build --release -p xraft, or set XRAFT_BIN)"
      cmd=("$bin" server --bind "$XRAFT_HOST" --port "$port" --dir "$dir")
      ;;
    cluster)
      local bin; bin=$(xraft_bin)
      [ -x "$bin" ] || die "xraft binary not found at $bin (cargo build --release -p xraft, or set XRAFT_BIN)"
      cmd=("$bin" dev --bind "$XRAFT_HOST" --port "$port" --dir "$dir" --first-node-port 0)
      ;;
    redis)
      cmd=("$(redis_server_bin)" --bind "$XRAFT_HOST" --port "$port" --dir "$dir"
           --save '' --appendonly no --daemonize no)
      ;;
    redis-aof)
      cmd=("$(redis_server_bin)" --bind "$XRAFT_HOST" --port "$port" --dir "$dir"
           --save '' --appendonly yes --appendfsync always --daemonize no)
      ;;
    *) die "unknown server kind: $kind" ;;
  esac
  log "starting: $(printf "%q " "${cmd[@]}" "$@")"
  "${cmd[@]}" "$@" >"$logf" 2>&1 &
  SERVER_PID=$!
  track_pid "$SERVER_PID"
  if ! wait_for_ping "$port" "${XRAFT_START_TIMEOUT:-60}" "$SERVER_PID"; then
    log "---- last lines of $logf ----"; tail -n 30 "$logf" >&2 || true
    stop_pid "$SERVER_PID"
    return 1
  fi
  log "server up on $XRAFT_HOST:$port (pid $SERVER_PID)"
}

# Install the Debian packages the tests need, if any tool is missing.
ensure_test_deps() {
  local pkgs=() t p
  for t in redis-server:redis-server redis-cli:redis-tools redis-benchmark:redis-tools tclsh:tcl python3:python3 ip:iproute2 iptables:iptables; do
    p=${t#*:}; t=${t%%:*}
    if ! command -v "$t" >/dev/null 2>&1; then
      case " ${pkgs[*]} " in *" $p "*) ;; *) pkgs+=("$p") ;; esac
    fi
  done
  if [ "${#pkgs[@]}" -eq 0 ]; then log "test dependencies present (redis-server, redis-tools, tcl, python3, iproute2, iptables)"; return 0; fi
  log "installing from Debian: ${pkgs[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: apt-get install -y ${pkgs[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
  # Debian's package may start a system redis on 6379; our tests use their own free ports.
}

# Fetch (or reuse) the official Redis suite; prints its directory.
fetch_suite() {
  local dest=$XRAFT_TARGET_DIR/redis-suite
  if [ -x "$dest/$XRAFT_SUITE_VERSION/runtest" ]; then printf '%s\n' "$dest/$XRAFT_SUITE_VERSION"; return 0; fi
  local errlog out
  errlog=$(mktemp)
  log "fetching the Redis $XRAFT_SUITE_VERSION suite from Debian's source package into $dest"
  if out=$("$XRAFT_ROOT/scripts/fetch-redis-suite.sh" "$XRAFT_SUITE_VERSION" "$dest" 2>"$errlog"); then
    rm -f "$errlog"
    printf '%s\n' "$out" | tail -n 1
  else
    cat "$errlog" >&2; rm -f "$errlog"
    log "could not fetch the Redis suite"; return 1
  fi
}
