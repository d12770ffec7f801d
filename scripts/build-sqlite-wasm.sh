#!/usr/bin/env bash
# Build bench P9's SQLite guest: SQLite's amalgamation (as shipped in
# better-sqlite3's npm tarball) + bench/programs/sqlite-bench.c -> wasm32-wasi.
#
#   bash scripts/build-sqlite-wasm.sh        # -> bench/programs/build/sqlite-bench.wasm (+ .json)
#
# The tarball comes from the npm registry (`npm pack`), is checked against
# the sha256 recorded here, and so is the sqlite3.c inside it. The output is
# cached: rebuilt only when this script or the driver changed (a stamp of
# both, in the .json). Needs Debian's clang + lld + wasi-libc +
# libclang-rt-14-dev-wasm32 (as guests/build.sh).
#
# SQLite's own WASI support is used (its sqlite3.c defines SQLITE_WASI under
# __wasi__): the unix VFS with "unix-dotfile" locking (a DB.lock directory,
# no fcntl locks), no WAL, no mmap, getpid() = 1. No _WASI_EMULATED_* is
# needed and no VFS of ours.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=better-sqlite3@13.2.0
PKG_SHA256=40487589df3496f2ee0079d22b73c63fccebe7db0e8ee9a2c42421861e321e0b
SQLITE_VERSION=3.54.1
SQLITE_C_SHA256=75a4760a7b9727a4c4c877aec92eacf39e52a8f2921ce00bd33be6d3a8e8e254
OUT=bench/programs/build
DRIVER=bench/programs/sqlite-bench.c
FLAGS=(--target=wasm32-wasi -O2 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_THREADSAFE=0
  -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_DQS=0 -DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_SHARED_CACHE
  -Wl,--strip-debug)
CC=${CC:-clang}
command -v "$CC" >/dev/null || { echo "build-sqlite-wasm: $CC not found (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)" >&2; exit 1; }

stamp=$(cat "$0" "$DRIVER" | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/sqlite-bench.wasm" ] && grep -q "\"stamp\": \"$stamp\"" "$OUT/sqlite-bench.json" 2>/dev/null; then
  echo "build-sqlite-wasm: $OUT/sqlite-bench.wasm is up to date"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PKG" >/dev/null)
tgz=$(ls "$work"/*.tgz)
echo "$PKG_SHA256  $tgz" | sha256sum -c --quiet - || { echo "build-sqlite-wasm: $PKG tarball sha256 differs from the one recorded" >&2; exit 1; }
tar -xzf "$tgz" -C "$work" package/deps/sqlite3
src="$work/package/deps/sqlite3"
echo "$SQLITE_C_SHA256  $src/sqlite3.c" | sha256sum -c --quiet - || { echo "build-sqlite-wasm: sqlite3.c sha256 differs from the one recorded" >&2; exit 1; }
grep -q "#define SQLITE_VERSION  *\"$SQLITE_VERSION\"" "$src/sqlite3.h" || { echo "build-sqlite-wasm: sqlite3.h is not $SQLITE_VERSION" >&2; exit 1; }

mkdir -p "$OUT"
cp "$DRIVER" "$src/"
(cd "$src" && "$CC" "${FLAGS[@]}" -I. -o sqlite-bench.wasm sqlite-bench.c sqlite3.c)
mv "$src/sqlite-bench.wasm" "$OUT/sqlite-bench.wasm"
cat > "$OUT/sqlite-bench.json" <<JSON
{
  "sqlite": "$SQLITE_VERSION",
  "source": "$PKG (npm tarball sha256 $PKG_SHA256), deps/sqlite3/sqlite3.c",
  "sqlite3.c sha256": "$SQLITE_C_SHA256",
  "clang": "$("$CC" --version | head -1)",
  "flags": "${FLAGS[*]}",
  "wasm sha256": "$(sha256sum "$OUT/sqlite-bench.wasm" | cut -d' ' -f1)",
  "stamp": "$stamp"
}
JSON
echo "build-sqlite-wasm: built $OUT/sqlite-bench.wasm (SQLite $SQLITE_VERSION)"
