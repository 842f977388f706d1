#!/usr/bin/env bash
# The CI profile of the fault harness (a phase of scripts/test.sh): the `log` workload on a
# local 3-node cluster with no fault, with kill -9 (a shard's leader, a node, every node) and
# with SIGSTOP of a shard's leader; then the positive control: nodes that never flush, all
# killed at once, which the checker MUST report invalid (lost writes) or this script fails.
# Each run prints its verdict line; runs are stored under jepsen/store/ (kept when a run
# fails). Not yet here: partitions (netns), the consumer-group and follower workloads.
# env: XRAFT_BIN (default target/release/xraft), JEPSEN_SEED (default: random per run)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
cargo build --release -p jepsen
bin=$(xraft_bin)
[ -x "$bin" ] || die "xraft binary not found at $bin"
store=${JEPSEN_STORE:-jepsen/store}
failed=0
for spec in none:10 kill:24 pause:18; do
  nemesis=${spec%%:*} time=${spec##*:}
  seed=${JEPSEN_SEED:-$((RANDOM * 32768 + RANDOM))}
  banner "jepsen: log workload, nemesis $nemesis, ${time}s, seed $seed"
  if ! "${XRAFT_TARGET_DIR}/release/jepsen" run --bin "$bin" --nemesis "$nemesis" --time "$time" \
      --seed "$seed" --store "$store"; then
    failed=1
  else
    rm -rf "$store/log-$nemesis-$seed"
  fi
done
seed=${JEPSEN_SEED:-$((RANDOM * 32768 + RANDOM))}
banner "jepsen: positive control (nodes never flush; kill -9 of every node), seed $seed"
out=$("${XRAFT_TARGET_DIR}/release/jepsen" run --bin "$bin" --nemesis kill-all --unsafe-never-flush \
  --time 12 --seed "$seed" --store "$store" 2>&1) || true
printf '%s\n' "$out" | grep -v '^lost\|^read-regression\|^not-prefix\|^stale-read' | tail -n 12
# Invalid because writes were lost (not because the run itself broke).
if grep -q '^0 passed, 1 failed' <<<"$out" && grep -q 'anomalies {.*"lost": [1-9]' <<<"$out"; then
  log "positive control reported invalid (lost writes found), as it must be"
  rm -rf "$store/log-killall-never-flush-$seed"
else
  log "FAILED: the positive control was not reported invalid with lost writes"
  failed=1
fi
exit "$failed"
