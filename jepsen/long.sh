#!/usr/bin/env bash
# The long profile of the fault harness, for release runs (FAULTS.md "Profiles / Long"):
# every workload x nemesis cell, 5 nodes, 300 s per cell, several seeds, on the docker-compose
# cluster (image FROM scratch, packed from the fault-injection build so clock jumps work).
# Prints one verdict line per run and a summary; exits non-zero if any run failed. Runs that
# fail stay in the store with their history, nemesis log, node logs, results and plots.
#
# usage: jepsen/long.sh
# env:
#   JEPSEN_ENV=docker|netns     environment (default docker; netns needs no Docker)
#   JEPSEN_NODES=5              nodes (docker: 3 or 5)
#   JEPSEN_TIME=300             seconds of load per cell
#   JEPSEN_SEEDS="1 2 3"        seeds (each cell runs once per seed)
#   JEPSEN_WORKLOADS="log group follower trim"
#   JEPSEN_NEMESES="kill pause partition loss clock all"   (partition includes the majorities
#                               ring with 5 nodes)
#   JEPSEN_STORE=jepsen/store-long
# A whole default run takes 4 x 6 x 3 x ~310 s, about 6 hours; narrow it with the variables.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
env_kind=${JEPSEN_ENV:-docker}
nodes=${JEPSEN_NODES:-5}
time=${JEPSEN_TIME:-300}
seeds=${JEPSEN_SEEDS:-1 2 3}
workloads=${JEPSEN_WORKLOADS:-log group follower trim}
nemeses=${JEPSEN_NEMESES:-kill pause partition loss clock all}
store=${JEPSEN_STORE:-jepsen/store-long}
[ "$(id -u)" -eq 0 ] || die "network faults need root (iptables in namespaces)"

cargo build --release -p jepsen
cargo build --release -p xraft --features fault-injection
fault_bin=$XRAFT_TARGET_DIR/release/xraft-fault
cp -f "$XRAFT_TARGET_DIR/release/xraft" "$fault_bin"
cargo build --release -p xraft
image_args=()
if [ "$env_kind" = docker ]; then
  XRAFT_IMAGE=xraft:jepsen XRAFT_IMAGE_BIN=$fault_bin deploy/build-image.sh
  image_args=(--image xraft:jepsen)
fi

verdicts=()
failed=0
t0=$(date +%s)
for seed in $seeds; do
  for workload in $workloads; do
    for nemesis in $nemeses; do
      banner "jepsen long: $workload / $nemesis, env $env_kind, $nodes nodes, ${time}s, seed $seed"
      out=$("$XRAFT_TARGET_DIR/release/jepsen" run --bin "$fault_bin" --workload "$workload" \
        --nemesis "$nemesis" --env "$env_kind" --nodes "$nodes" --groups "$nodes" \
        --time "$time" --seed "$seed" --store "$store" "${image_args[@]}" 2>&1) || failed=1
      printf '%s\n' "$out" | grep -v '^\[' | tail -n 12
      verdicts+=("$workload/$nemesis seed $seed: $(printf '%s\n' "$out" |
        grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)")
    done
  done
done
banner "jepsen long: verdicts ($(($(date +%s) - t0))s)"
printf '  %s\n' "${verdicts[@]}"
exit "$failed"
