#!/usr/bin/env bash
# Builds the reference Redis 8.0.2 (the same release as the compat suite) from the upstream
# tarball that scripts/fetch-redis-suite.sh downloads from Debian's source package.
# Debian bookworm only packages Redis 7.0.15, which fails ~24 tests of the 8.0 suite; this build
# passes all of them. Optional: used by XRAFT_SUITE_TARGET=redis and bench/ when present.
#
# usage: scripts/build-redis.sh          -> prints the redis-server path last
# output: $CARGO_TARGET_DIR or target, /redis-8.0-build/src/redis-server  (~1.5 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

build=$XRAFT_TARGET_DIR/redis-$XRAFT_SUITE_VERSION-build
if [ -x "$build/src/redis-server" ]; then echo "$build/src/redis-server"; exit 0; fi
{ command -v make && command -v cc; } >/dev/null || die "needs make and a C compiler"
suite=$(fetch_suite)
rm -rf "$build.tmp"
cp -a "$suite" "$build.tmp"
log "building Redis from $suite (log: $build.log)"
make -C "$build.tmp" -j"$(nproc)" BUILD_TLS=no USE_SYSTEMD=no >"$build.log" 2>&1 \
  || { tail -n 30 "$build.log" >&2; die "redis build failed"; }
mv "$build.tmp" "$build"
"$build/src/redis-server" --version >&2
echo "$build/src/redis-server"
