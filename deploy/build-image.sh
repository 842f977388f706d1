#!/usr/bin/env bash
# Builds the xraft container image from a clean checkout, pulling nothing:
#   FROM scratch + the release binary (debug info stripped) + the shared libraries `ldd` lists
#   + /etc/passwd and /etc/group for the non-root user xraft (10001) + /data.
# usage: deploy/build-image.sh            (tag: $XRAFT_IMAGE, default xraft:dev)
#        XRAFT_IMAGE_BIN=path deploy/build-image.sh   packs that binary instead of building one
#        (the fault harness packs target/release/xraft-fault as xraft:jepsen)
# Prints the image's size at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${XRAFT_IMAGE:-xraft:dev}
command -v docker >/dev/null || { echo "docker is missing" >&2; exit 1; }
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck source=/dev/null
  . "$HOME/.cargo/env"
fi
if [ -n "${XRAFT_IMAGE_BIN:-}" ]; then
  bin=$XRAFT_IMAGE_BIN
  [ -x "$bin" ] || { echo "XRAFT_IMAGE_BIN=$bin is not an executable" >&2; exit 1; }
else
  cargo build --release -p xraft
  bin=${CARGO_TARGET_DIR:-target}/release/xraft
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/xraft-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/etc" "$root/tmp" "$ctx/data"
chmod 1777 "$root/tmp"
objcopy --strip-debug "$bin" "$root/xraft"
# Every library the dynamic linker will load, at the path ldd resolved (the loader included).
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
  while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
    echo "library: $lib"
  done
printf 'root:x:0:0:root:/:/xraft\nxraft:x:10001:10001:xraft:/data:/xraft\n' >"$root/etc/passwd"
printf 'root:x:0:\nxraft:x:10001:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
cp deploy/Dockerfile "$ctx/Dockerfile"
docker build --quiet -t "$tag" "$ctx" >/dev/null
size=$(docker image inspect "$tag" --format '{{.Size}}')
echo "built $tag: $((size / 1024 / 1024)) MiB ($size bytes), FROM scratch, user 10001"
