#!/usr/bin/env bash
# Cluster XADD benchmark (not a test): `xraft dev` (3 nodes, 3 shards, 3 replicas, fsync before
# ack, the RESP proxy) versus redis-server --appendonly yes --appendfsync always, same run:
#   redis-benchmark -c 50 -n 200000 -P {1,16} -r 16 XADD s{__rand_int__} * f v
# Prints requests/s, p50/p99 and the ratio; see bench/xadd.sh for the knobs.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_TARGET=cluster BENCH_KEYS=${BENCH_KEYS:-16} exec bench/xadd.sh "$@"
