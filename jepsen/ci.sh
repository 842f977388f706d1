#!/usr/bin/env bash
# The CI profile of the fault harness (a phase of scripts/test.sh; FAULTS.md "Profiles / CI"):
# 3 nodes, 3 shards, 4 clients, ~100 ops/s, runs of 10-30 s:
#   log       no fault; kill -9 (a shard's leader, one, minority, majority, all); SIGSTOP;
#             partitions (netns: one, a leader, halves, bridge, proxy-to-nodes); clock jumps
#   group     consumer group (abandoned consumers, XAUTOCLAIM, drain) under kill + partitions
#   follower  XREAD BLOCK sessions under partitions + SIGSTOP
#   trim      exact XTRIM MINID under packet loss
#   docker    (when Docker runs and XRAFT_SKIP_DOCKER is not 1) the group workload on the
#             compose cluster of deploy/ under every nemesis (image xraft:jepsen, packed from
#             the fault-injection build)
# Every run also checks liveness (L10): after the heal, every shard accepts a write within 15 s.
# then the positive control: nodes that never flush, all killed at once, which the checker
# MUST report invalid (lost writes) or this script fails.
# Each run prints its verdict line `N passed, M failed` with its seed; failed runs stay in
# jepsen/store/ (history.jsonl, nemesis.log, node logs, results.json, SVG plots).
# Network faults need root (network namespaces, iptables); without root those runs are
# skipped with a message, unless JEPSEN_REQUIRE_NETNS=1 (then they fail).
# env: XRAFT_BIN (default target/release/xraft), JEPSEN_SEED (default: random per run)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
cargo build --release -p jepsen
bin=$(xraft_bin)
[ -x "$bin" ] || die "xraft binary not found at $bin"
# The broker with an injectable wall-clock offset (the `fault-injection` feature), for clock
# jumps only; cargo keeps both builds' artifacts, so switching back costs a copy, not a build.
fault_bin=$XRAFT_TARGET_DIR/release/xraft-fault
if [ -z "${XRAFT_BIN:-}" ]; then
  cargo build --release -p xraft --features fault-injection
  cp -f "$XRAFT_TARGET_DIR/release/xraft" "$fault_bin"
  cargo build --release -p xraft
  if grep -q fault-clock-offset-ms "$bin"; then die "$bin was built with fault-injection"; fi
fi
store=${JEPSEN_STORE:-jepsen/store}
netns_ok=1
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v iptables >/dev/null; then
  netns_ok=0
fi
failed=0
verdicts=()
# run WORKLOAD NEMESIS SECONDS ENV [BIN [ARGS...]]
run() {
  local workload=$1 nemesis=$2 time=$3 env=$4 b=${5:-$bin}
  shift 5 2>/dev/null || shift $#
  local seed=${JEPSEN_SEED:-$((RANDOM * 32768 + RANDOM))}
  if [ "$env" = netns ] && [ "$netns_ok" = 0 ]; then
    if [ "${JEPSEN_REQUIRE_NETNS:-0}" = 1 ]; then
      log "FAILED: $workload/$nemesis needs root, ip and iptables"
      failed=1
    else
      log "skipped $workload/$nemesis: network faults need root, ip and iptables"
    fi
    return 0
  fi
  if [ ! -x "$b" ]; then
    log "skipped $workload/$nemesis: no $b (XRAFT_BIN is set; build it with --features fault-injection)"
    return 0
  fi
  banner "jepsen: workload $workload, nemesis $nemesis, env $env, ${time}s, seed $seed"
  local out rc=0
  out=$("${XRAFT_TARGET_DIR}/release/jepsen" run --bin "$b" --workload "$workload" \
    --nemesis "$nemesis" --env "$env" --time "$time" --seed "$seed" --store "$store" "$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | tail -n 40
  verdicts+=("$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)")
  if [ "$rc" -ne 0 ]; then
    failed=1
  else
    rm -rf "${store:?}/$workload-$nemesis-$seed"
  fi
}
run log none 10 local
run log kill 24 local
run log pause 18 local
run log partition 30 netns
run log clock 20 local "$fault_bin"
run group kill-partition 30 netns
run follower partition-pause 30 netns
run trim loss 20 netns
if [ "${XRAFT_SKIP_DOCKER:-0}" != 1 ] && [ "$netns_ok" = 1 ] && docker info >/dev/null 2>&1 &&
  command -v docker-compose >/dev/null && [ -x "$fault_bin" ]; then
  XRAFT_IMAGE=xraft:jepsen XRAFT_IMAGE_BIN=$fault_bin deploy/build-image.sh
  run group all 30 docker "$fault_bin" --image xraft:jepsen
else
  log "skipped the docker environment run (no Docker, no root, XRAFT_SKIP_DOCKER=1 or no $fault_bin)"
fi

seed=${JEPSEN_SEED:-$((RANDOM * 32768 + RANDOM))}
banner "jepsen: positive control (nodes never flush; kill -9 of every node), seed $seed"
out=$("${XRAFT_TARGET_DIR}/release/jepsen" run --bin "$bin" --nemesis kill-all --unsafe-never-flush \
  --time 12 --seed "$seed" --store "$store" 2>&1) || true
printf '%s\n' "$out" | grep -v '^lost\|^read-regression\|^not-prefix\|^stale-read' | tail -n 12
# Invalid because writes were lost (not because the run itself broke).
if grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed' <<<"$out" &&
  grep -q 'anomalies {.*"lost": [1-9]' <<<"$out"; then
  log "positive control reported invalid (lost writes found), as it must be"
  rm -rf "$store/log-kill-all-never-flush-$seed"
else
  log "FAILED: the positive control was not reported invalid with lost writes"
  failed=1
fi
banner "jepsen: verdicts"
printf '  %s\n' "${verdicts[@]}"
exit "$failed"
