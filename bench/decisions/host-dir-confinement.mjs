// Decision measurement: what does confining a bind mount cost?
//
// The same operations, on a host directory four levels down, three ways:
// plain node:fs on absolute paths (no confinement: the floor), HostDir with
// `proc-fd` resolution (Linux: every directory reached through its fd), and
// HostDir with `path` resolution (every ancestor re-checked with lstat).
// The decision is recorded in docs/decisions.md ("Bind mounts: what is
// closed against a racing host").
//
//   npm run build && node bench/decisions/host-dir-confinement.mjs
//
// STRATA_DIST=/some/dir points it at another build. Times are the best of
// REPS runs of N operations, in microseconds per operation: on a shared
// machine the best run is the one least disturbed by others.

import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = process.env.STRATA_DIST ?? new URL('../../dist', import.meta.url).pathname;
const { HostDir } = await import(join(dist, 'vfs/index.js'));

const REPS = 7;
const N = 2000;
const base = mkdtempSync(join(tmpdir(), 'strata-bench-bind-'));
const deep = join(base, 'a', 'b', 'c', 'd');
mkdirSync(deep, { recursive: true });
writeFileSync(join(deep, 'file'), Buffer.alloc(4096, 1));
mkdirSync(join(deep, 'list'));
for (let i = 0; i < 100; i++) writeFileSync(join(deep, 'list', `f${i}`), '');

function best(fn) {
  const times = [];
  fn(); // warm-up
  for (let r = 0; r < REPS; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
  return Math.min(...times);
}

const buf = new Uint8Array(4096);
const plain = {
  'lookup (lstat)': () => { for (let i = 0; i < N; i++) lstatSync(join(deep, 'file'), { bigint: true }); },
  'read 4 KiB, open per op': () => { for (let i = 0; i < N; i++) { const fd = openSync(join(deep, 'file'), 'r'); readSync(fd, buf, 0, 4096, 0); closeSync(fd); } },
  'create + unlink': () => { for (let i = 0; i < N; i++) { closeSync(openSync(join(deep, 'new'), 'wx')); unlinkSync(join(deep, 'new')); } },
  'mkdir + rmdir': () => { for (let i = 0; i < N; i++) { mkdirSync(join(deep, 'dir')); rmdirSync(join(deep, 'dir')); } },
  'readdir 100 entries (÷100)': () => { for (let i = 0; i < N / 100; i++) for (const d of readdirSync(join(deep, 'list'), { withFileTypes: true })) lstatSync(join(deep, 'list', d.name), { bigint: true }); },
};

function strata(resolution) {
  const fs = new HostDir({ path: base, readonly: false, dev: 1n, resolution });
  let dir = fs.root;
  for (const n of ['a', 'b', 'c', 'd']) dir = dir.lookup(n);
  const file = dir.lookup('file');
  const list = dir.lookup('list');
  return {
    fs,
    ops: {
      'lookup (lstat)': () => { for (let i = 0; i < N; i++) dir.lookup('file'); },
      'read 4 KiB, open per op': () => { for (let i = 0; i < N; i++) file.read(buf, 0, 4096, 0); },
      'create + unlink': () => { for (let i = 0; i < N; i++) { dir.createFile('new', 0o644); dir.unlink('new'); } },
      'mkdir + rmdir': () => { for (let i = 0; i < N; i++) { dir.mkdir('dir', 0o755); dir.rmdir('dir'); } },
      'readdir 100 entries (÷100)': () => { for (let i = 0; i < N / 100; i++) list.readdir(0, () => true); },
    },
  };
}

const proc = strata('auto');
const path = strata('path');
console.log(`node ${process.version}, ${process.platform}; µs per operation, best of ${REPS} × ${N}; directory 4 levels below the bind root`);
console.log(`| operation | node:fs, no confinement | HostDir ${proc.fs.resolution} | HostDir path |`);
console.log('| --- | --- | --- | --- |');
for (const name of Object.keys(plain)) {
  const row = [best(plain[name]), best(proc.ops[name]), best(path.ops[name])].map((t) => t.toFixed(1));
  console.log(`| ${name} | ${row.join(' | ')} |`);
}
proc.fs.close();
path.fs.close();
rmSync(base, { recursive: true, force: true });
