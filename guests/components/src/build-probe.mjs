// Build guests/components/cwd-probe.wasm from src/cwd-probe.wat and
// src/cwd-probe.wit: parse the WAT, embed the world (with the WASI 0.2.12
// packages shipped in @bytecodealliance/jco, inlined as nested packages:
// the vendored wasm-tools cannot read a WIT directory here), and make the
// component. Deterministic: the same inputs give the same bytes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const wasi = here('../../../node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12');
let source = readFileSync(here('cwd-probe.wit'), 'utf8');
for (const pkg of ['cli', 'clocks', 'filesystem', 'io', 'random', 'sockets']) {
  const text = readFileSync(`${wasi}/wasi-${pkg}/package.wit`, 'utf8');
  const header = /^package ([^;]+);/m.exec(text);
  if (header === null) throw new Error(`wasi-${pkg}/package.wit has no package line`);
  source += `\npackage ${header[1]} {\n${text.replace(header[0], '')}\n}\n`;
}
const core = await parse(readFileSync(here('cwd-probe.wat'), 'utf8'));
const component = await componentNew(await componentEmbed({ binary: core, witSource: source, world: 'cwd-probe' }));
writeFileSync(here('../cwd-probe.wasm'), component);
