#!/usr/bin/env bash
# Rebuild every guest: guests/src/NAME.c -> guests/bin/NAME.wasm.
# Flags are fixed so the output is byte-for-byte reproducible with Debian's
# clang 14 + wasi-libc; CI rebuilds and fails if a committed .wasm differs.
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-clang}
command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)" >&2; exit 1; }
mkdir -p bin
for src in src/*.c; do
  name=$(basename "$src" .c)
  "$CC" --target=wasm32-wasi -O2 -Wall -Werror -Isrc \
    -ffile-prefix-map="$PWD"=. -Wl,--strip-debug \
    -o "bin/$name.wasm" "$src"
done
echo "built $(ls src/*.c | wc -l) guests into guests/bin"
