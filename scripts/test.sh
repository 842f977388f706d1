#!/usr/bin/env bash
# THE test command: ./scripts/test.sh
#
# Phases (each prints a banner; the first failure stops the run with a non-zero exit):
#   deps      install redis-server, redis-tools, tcl, python3, iproute2, iptables from Debian
#             when missing (sudo if not root)
#   fmt       cargo fmt --all -- --check
#   clippy    cargo clippy --workspace --all-targets -- -D warnings
#   test      cargo nextest run --workspace --cargo-profile ci (+ doc tests), or cargo test
#             --workspace --profile ci (`ci`: release code without the whole-program link)
#   build     cargo build --release --workspace --bins   (the binaries, with LTO, for what follows)
#   compat    tests/compat-suite.sh    (official Redis 8.0.2 stream suite against the binary)
#   compat-cluster  the same suite through the proxy of `xraft dev` (3 nodes, 3 shards)
#   crash     tests/crash-restart.sh   (kill -9 / restart durability test)
#   crash-cluster  tests/cluster_crash.py (3 node processes + proxy via scripts/cluster.sh:
#             kill -9 a group's leader under load and restart it, kill -9 all and restart;
#             nothing acknowledged lost, replicas' state digests agree; prints failover time)
#   jepsen    jepsen/ci.sh (the fault harness's CI profile: workloads log, group, follower,
#             trim under no fault, kill -9, SIGSTOP, partitions and packet loss (network
#             namespaces, root), clock jumps; the never-flush positive control; verdict lines)
#   compose-smoke  deploy/smoke.sh (image FROM scratch, docker-compose cluster, redis-cli and
#             redis-py flows, docker kill of a shard leader under writes; skipped without Docker)
#
# env:
#   XRAFT_SKIP_LINT=1     skip fmt and clippy
#   XRAFT_SKIP_SUITE=1    skip the compat suite
#   XRAFT_SKIP_CRASH=1    skip the crash/restart tests
#   XRAFT_SKIP_DOCKER=1   skip the docker-compose smoke test
#   XRAFT_SKIP_CARGO=1    skip fmt, clippy, unit tests and the build (test an existing binary;
#                         XRAFT_BIN=path picks it)
#   XRAFT_TEST_RUNNER=cargo|nextest   force the unit-test runner (default: nextest if installed)
#   XRAFT_KEEP_GOING=1    run the remaining phases after a failure (still exits non-zero)
# Servers started by any phase are reaped on exit (their pids are kept in XRAFT_PIDDIR).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
XRAFT_PIDDIR=$(mktemp -d "${TMPDIR:-/tmp}/xraft-pids.XXXXXX")
export XRAFT_PIDDIR

results=()
failed=0
last_rc=0
t_all=$(date +%s)

summary() {
  local r
  printf '\n== scripts/test.sh summary (%ss)\n' "$(($(date +%s) - t_all))" >&2
  for r in "${results[@]}"; do printf '   %s\n' "$r" >&2; done
}
on_exit() {
  local rc=$?
  reap_piddir "$XRAFT_PIDDIR"
  rm -rf "$XRAFT_PIDDIR"
  summary
  if [ "$rc" -eq 0 ]; then printf '== ALL PASSED\n' >&2; else printf '== FAILED (exit %s)\n' "$rc" >&2; fi
  exit "$rc"
}
on_signal() {
  local code=$1
  if [ -n "$phase_pid" ]; then
    log "interrupted: stopping the running phase (process group $phase_pid)"
    kill -TERM -- "-$phase_pid" 2>/dev/null || true
    wait "$phase_pid" 2>/dev/null || true
    phase_pid=
  fi
  exit "$code"
}
phase_pid=
set -m
trap on_exit EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# phase NAME CMD...: run one step with a banner and its duration.
phase() {
  local name=$1; shift
  banner "phase: $name  ($*)"
  local t0 rc=0
  t0=$(date +%s)
  # A subshell outside any `||` context, so that `set -e` holds inside shell functions too; in
  # the background in its own process group (set -m), so that a signal to this script stops the
  # whole phase at once (see on_signal).
  set +e
  (set -e; "$@") &
  phase_pid=$!
  wait "$phase_pid"
  rc=$?
  set -e
  phase_pid=
  last_rc=$rc
  local dt=$(($(date +%s) - t0))
  if [ "$rc" -eq 0 ]; then
    results+=("PASS  $name (${dt}s)")
    log "phase $name passed in ${dt}s"
  else
    results+=("FAIL  $name (${dt}s, exit $rc)")
    log "phase $name FAILED (exit $rc) after ${dt}s"
    failed=1
    [ "${XRAFT_KEEP_GOING:-0}" = 1 ] || exit 1
  fi
}
skip() { results+=("SKIP  $1 ($2)"); banner "phase: $1 skipped ($2)"; }

check_toolchain() {
  if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
  fi
  command -v cargo >/dev/null || { log "cargo not found (install the Rust toolchain with rustup)"; return 1; }
  cargo --version
  if [ "${XRAFT_SKIP_LINT:-0}" != 1 ]; then
    cargo fmt --version || { log "rustfmt missing: rustup component add rustfmt"; return 1; }
    cargo clippy --version || { log "clippy missing: rustup component add clippy"; return 1; }
  fi
}

fmt_check() {
  local out rc=0
  out=$(mktemp)
  cargo fmt --all -- --check --color never >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    head -n 150 "$out"
    [ "$(wc -l <"$out")" -le 150 ] || echo "... ($(wc -l <"$out") lines of diff in all)"
    echo "files not formatted:"
    grep -o '^Diff in [^ ]*' "$out" | sed 's/^Diff in //; s/:[0-9]*:*$//' | sort -u | sed 's/^/   /' || true
    echo "fix with: cargo fmt --all"
  fi
  rm -f "$out"
  return "$rc"
}

deps() {
  ensure_test_deps
  redis-server --version
  redis-cli --version
  echo "tclsh $(echo 'puts [info patchlevel]' | tclsh)"
  python3 --version
}

unit_tests() {
  local runner=${XRAFT_TEST_RUNNER:-}
  if [ -z "$runner" ]; then
    if cargo nextest --version >/dev/null 2>&1; then runner=nextest; else runner=cargo; fi
  fi
  if [ "$runner" = nextest ]; then
    cargo nextest run --workspace --cargo-profile ci --no-fail-fast --no-tests=warn
    # nextest does not run doc tests.
    cargo test --workspace --profile ci --doc
  else
    cargo test --workspace --profile ci --no-fail-fast
  fi
}

phase deps deps
phase toolchain check_toolchain
build_failed=0
if [ "${XRAFT_SKIP_CARGO:-0}" = 1 ]; then
  for p in fmt clippy test build; do skip "$p" XRAFT_SKIP_CARGO=1; done
else
  if [ "${XRAFT_SKIP_LINT:-0}" = 1 ]; then
    skip fmt XRAFT_SKIP_LINT=1
    skip clippy XRAFT_SKIP_LINT=1
  else
    phase fmt fmt_check
    phase clippy cargo clippy --workspace --all-targets -- -D warnings
  fi
  phase test unit_tests
  phase build cargo build --release --workspace --bins
  [ "$last_rc" -eq 0 ] || build_failed=1
fi
# With XRAFT_KEEP_GOING=1 a failed build must not let a stale binary be tested.
if [ "${XRAFT_SKIP_SUITE:-0}" = 1 ]; then
  skip compat XRAFT_SKIP_SUITE=1
elif [ "$build_failed" = 1 ]; then
  skip compat "build failed"
else
  phase compat tests/compat-suite.sh
fi
if [ "${XRAFT_SKIP_SUITE:-0}" = 1 ]; then
  skip compat-cluster XRAFT_SKIP_SUITE=1
elif [ "$build_failed" = 1 ]; then
  skip compat-cluster "build failed"
else
  phase compat-cluster env XRAFT_SUITE_TARGET=cluster tests/compat-suite.sh
fi
if [ "${XRAFT_SKIP_CRASH:-0}" = 1 ]; then
  skip crash XRAFT_SKIP_CRASH=1
elif [ "$build_failed" = 1 ]; then
  skip crash "build failed"
else
  phase crash tests/crash-restart.sh
fi
if [ "${XRAFT_SKIP_CRASH:-0}" = 1 ]; then
  skip crash-cluster XRAFT_SKIP_CRASH=1
elif [ "$build_failed" = 1 ]; then
  skip crash-cluster "build failed"
else
  phase crash-cluster python3 tests/cluster_crash.py
fi
if [ "${XRAFT_SKIP_CRASH:-0}" = 1 ]; then
  skip jepsen XRAFT_SKIP_CRASH=1
elif [ "$build_failed" = 1 ]; then
  skip jepsen "build failed"
else
  phase jepsen jepsen/ci.sh
fi
if [ "${XRAFT_SKIP_DOCKER:-0}" = 1 ]; then
  skip compose-smoke XRAFT_SKIP_DOCKER=1
elif [ "$build_failed" = 1 ]; then
  skip compose-smoke "build failed"
elif ! docker info >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
  skip compose-smoke "no Docker Engine / docker-compose here"
else
  phase compose-smoke deploy/smoke.sh
fi
[ "$failed" -eq 0 ]
