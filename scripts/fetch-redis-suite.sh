#!/usr/bin/env bash
# Vendored from ../shared/compat/fetch-redis-suite.sh so that the repository is self-contained.
# Fetches the official Redis test suite from Debian's `redis` source package and unpacks it.
# usage: fetch-redis-suite.sh [8.0|7.0] [DEST]     (default 8.0, DEST ./target/redis-suite)
# 8.0 = Redis 8.0.2 (Debian trixie), 7.0 = Redis 7.0.15 (Debian bookworm).
# Needs only apt and, to run it, tclsh (apt-get install -y tcl). Prints the suite's directory last.
set -euo pipefail
ver=${1:-8.0}
dest=$(realpath -m "${2:-target/redis-suite}")
case "$ver" in
  8.0) dist=trixie; want=redis_8.0.2.orig.tar.gz ;;
  7.0) dist=bookworm; want=redis_7.0.15.orig.tar.gz ;;
  *) echo "unknown suite version: $ver (use 8.0 or 7.0)" >&2; exit 2 ;;
esac
out="$dest/$ver"
if [ -x "$out/runtest" ]; then echo "$out"; exit 0; fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# Derive deb-src entries from the machine's own Debian source entries (no mirror is named here).
uris=$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) \
  | grep -oE '(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)[a-z]+://[^[:space:]]*debian(-security)?/?([[:space:]]|$)' \
  | grep -oE '[a-z]+://[^[:space:]]+' | sed 's:/*$::' | sort -u || true)
[ -n "$uris" ] || { echo "no Debian source entry found in the apt configuration" >&2; exit 1; }
: > "$work/src.sources"
for u in $uris; do
  case "$u" in
    *debian-security) s="$dist-security" ;;
    *debian) s="$dist" ;;
    *) continue ;;
  esac
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' "$u" "$s" >> "$work/src.sources"
done
mkdir -p "$work/lists/partial"
apt_opts=(-q -o Dir::Etc::SourceParts=/dev/null -o "Dir::Etc::sourcelist=$work/src.sources" -o "Dir::State::Lists=$work/lists")
apt-get "${apt_opts[@]}" update >&2 || true
# The .dsc may be missing on the mirror while the upstream tarball is there: only the tarball matters.
(cd "$work" || exit 1; apt-get "${apt_opts[@]}" source --download-only redis >&2 || true)
[ -f "$work/$want" ] || { echo "could not download $want" >&2; exit 1; }
mkdir -p "$out"
tar -xzf "$work/$want" -C "$out" --strip-components=1
echo "$out"
