#!/usr/bin/env bash
# Adapt every preview1 guest to a component: guests/bin/NAME.wasm ->
# guests/components/NAME.wasm, with `jco new --wasi-command` and the
# preview1 command adapter shipped in the pinned @bytecodealliance/jco
# package; and build cwd-probe.wasm, a component written for preview2
# (src/cwd-probe.wat + src/cwd-probe.wit, src/build-probe.mjs). The output is byte-for-byte reproducible for a given jco
# version; CI rebuilds and fails if a committed .wasm differs.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
jco="$root/node_modules/.bin/jco"
adapter="$root/node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.command.wasm"
[ -x "$jco" ] && [ -f "$adapter" ] || { echo "build.sh: run npm ci first (needs the @bytecodealliance/jco dev dependency)" >&2; exit 1; }
n=0
for core in ../bin/*.wasm; do
  name=$(basename "$core" .wasm)
  "$jco" new "$core" --wasi-command --adapt "wasi_snapshot_preview1=$adapter" -o "$name.wasm" >/dev/null
  n=$((n + 1))
done
# A component written for preview2 itself (it reads initial-cwd), from WAT and WIT.
node src/build-probe.mjs
echo "adapted $n guests into guests/components (jco $(node -p "require('$root/node_modules/@bytecodealliance/jco/package.json').version"))"
