// Memory per byte of file data: what strata's in-memory file store
// (src/vfs/file-data.ts `FileData`, the bytes of every tmpfs and overlay-
// upper file) costs per byte it holds, for the write patterns programs make.
//
//   node --expose-gc bench/p9-memory.js [--mib N] [--json]   every pattern, each in a fresh child process
//   node --expose-gc bench/p9-memory.js --child PATTERN N     one pattern (what the parent runs)
//
// One child per pattern: after a full GC, it takes rss, arrayBuffers and
// maxRSS; writes N MiB of file data in the pattern (into FileData objects
// from strata's dist, STRATA_BENCH_DIST to measure another build); full GC
// again; and reports, per byte of data held, the growth of
//   - arrayBuffers (bytes V8 has allocated for ArrayBuffers: what FileData
//     allocated, touched or not),
//   - rss (resident: untouched parts of a calloc'd buffer stay unmapped),
//   - maxRSS (the peak, so transient copies count).
// 1.00 is the floor: one byte of memory per byte of data.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(process.env.STRATA_BENCH_DIST ?? path.join(here, '..', 'dist'));
const KiB = 1024;
const MiB = 1024 * KiB;

/** Deterministic bytes (xorshift32), so no pattern is all zeros. */
function bytes(/** @type {number} */ n, seed = 1) {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Fisher–Yates over 0..n-1 with a fixed seed. */
function permutation(/** @type {number} */ n) {
  const p = Array.from({ length: n }, (_, i) => i);
  let x = 0x2545f491;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [p[i], p[j]] = [/** @type {number} */ (p[j]), /** @type {number} */ (p[i])];
  }
  return p;
}

/**
 * Each pattern writes `total` bytes of data and returns what holds them.
 * @type {Record<string, { what: string, prepare?: (total: number) => any, run: (FileData: any, total: number, prepared?: any) => unknown[] }>}
 */
export const patterns = {
  'one write': { what: 'one write of the whole size (the source made before the baseline)', prepare: (total) => bytes(total), run: (FileData, total, src) => {
    const f = new FileData(); f.write(src, 0, total, 0); return [f];
  } },
  'append 64 KiB': { what: 'appends of 64 KiB', run: (FileData, total) => {
    const f = new FileData(); const b = bytes(64 * KiB);
    for (let at = 0; at < total; at += b.length) f.write(b, 0, b.length, at);
    return [f];
  } },
  'append 16 B': { what: 'appends of 16 B', run: (FileData, total) => {
    const f = new FileData(); const b = bytes(16);
    for (let at = 0; at < total; at += 16) f.write(b, 0, 16, at);
    return [f];
  } },
  'random 4 KiB': { what: '4 KiB writes at every 4 KiB offset, in random order (a preallocated file)', run: (FileData, total) => {
    const f = new FileData(); const b = bytes(4 * KiB);
    for (const i of permutation(total / (4 * KiB))) f.write(b, 0, b.length, i * 4 * KiB);
    return [f];
  } },
  'sqlite-like 4 KiB': { what: 'a 4 KiB page appended, then 3 random earlier pages rewritten, until full (a B-tree growing)', run: (FileData, total) => {
    const f = new FileData(); const b = bytes(4 * KiB); let x = 7;
    for (let pages = 0; pages * 4 * KiB < total; pages++) {
      f.write(b, 0, b.length, pages * 4 * KiB);
      for (let k = 0; k < 3; k++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; f.write(b, 0, b.length, ((x >>> 0) % (pages + 1)) * 4 * KiB); }
    }
    return [f];
  } },
  'files of 24 KiB': { what: 'many files of 24 KiB, each written in 4 KiB appends', run: (FileData, total) => {
    const b = bytes(4 * KiB); const files = [];
    for (let n = 0; n < Math.floor(total / (24 * KiB)); n++) {
      const f = new FileData();
      for (let at = 0; at < 24 * KiB; at += b.length) f.write(b, 0, b.length, at);
      files.push(f);
    }
    return files;
  } },
  'files of 1.1 MiB': { what: 'files of 1.1 MiB, each written in 64 KiB appends (just past a 1 MiB boundary)', run: (FileData, total) => {
    const b = bytes(64 * KiB); const files = []; const size = 1.1 * MiB;
    for (let n = 0; n < Math.floor(total / size); n++) {
      const f = new FileData();
      for (let at = 0; at < size; at += b.length) f.write(b, 0, Math.min(b.length, size - at), at);
      files.push(f);
    }
    return files;
  } },
  'journal churn': { what: 'a file of the whole size in 64 KiB appends, then 2,000 journals (20 KiB in 4 KiB writes, then dropped); held: the big file', run: (FileData, total) => {
    const f = new FileData(); const big = bytes(64 * KiB); const b = bytes(4 * KiB);
    for (let at = 0; at < total; at += big.length) f.write(big, 0, big.length, at);
    for (let n = 0; n < 2000; n++) {
      const j = new FileData();
      for (let at = 0; at < 20 * KiB; at += b.length) j.write(b, 0, b.length, at);
    }
    return [f];
  } },
  'files of 4 KiB': { what: 'many files of 4 KiB, each written in 512 B appends', run: (FileData, total) => {
    const b = bytes(512); const files = [];
    for (let n = 0; n < total / (4 * KiB); n++) {
      const f = new FileData();
      for (let at = 0; at < 4 * KiB; at += 512) f.write(b, 0, 512, at);
      files.push(f);
    }
    return files;
  } },
  'files of 100 B': { what: 'many files of 100 B, one write each', run: (FileData, total) => {
    const b = bytes(100); const files = [];
    for (let n = 0; n < Math.floor(total / 100); n++) { const f = new FileData(); f.write(b, 0, 100, 0); files.push(f); }
    return files;
  } },
};

async function child(/** @type {string} */ name, /** @type {number} */ mib) {
  const { FileData } = await import(pathToFileURL(path.join(dist, 'vfs', 'file-data.js')).href);
  const pattern = patterns[name];
  if (!pattern || !globalThis.gc) throw new Error(`usage: node --expose-gc ${process.argv[1]} --child PATTERN MIB`);
  patterns['append 64 KiB']?.run(FileData, 256 * KiB); // warm the code paths
  const total = mib * MiB;
  const prepared = pattern.prepare?.(total);
  const gc = /** @type {() => void} */ (globalThis.gc);
  gc(); gc();
  const before = { ...process.memoryUsage(), maxRSS: process.resourceUsage().maxRSS * KiB };
  const t0 = performance.now();
  const held = pattern.run(FileData, total, prepared);
  const ms = performance.now() - t0;
  // V8 frees ArrayBuffers' memory on a background sweeper: let it finish.
  gc(); gc();
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc();
  const after = { ...process.memoryUsage(), maxRSS: process.resourceUsage().maxRSS * KiB };
  const data = held.reduce((s, f) => s + /** @type {any} */ (f).size, 0);
  const per = (/** @type {'rss' | 'arrayBuffers' | 'maxRSS' | 'heapUsed'} */ k) => (after[k] - before[k]) / data;
  console.log(JSON.stringify({ pattern: name, dataBytes: data, ms, arrayBuffers: per('arrayBuffers'), rss: per('rss'), maxRSS: per('maxRSS'), heap: per('heapUsed') }));
  if (held.length < 0 || prepared === 0) console.log(held); // keep them alive until measured
}

/** Every pattern, each in a fresh process. @param {number} mib */
export function measureMemory(mib) {
  const out = [];
  for (const name of Object.keys(patterns)) {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', name, String(mib)], { encoding: 'utf8', env: process.env });
    const line = r.stdout.trim().split('\n').pop();
    if (r.status !== 0 || !line) throw new Error(`p9-memory ${name}: exit ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
    out.push({ ...JSON.parse(line), what: patterns[name]?.what });
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = (/** @type {string} */ f) => { const i = args.indexOf(f); return i >= 0 ? args[i + 1] : undefined; };
  if (args[0] === '--child') {
    await child(/** @type {string} */ (args[1]), Number(args[2]));
  } else {
    const rows = measureMemory(Number(at('--mib') ?? 64));
    if (args.includes('--json')) console.log(JSON.stringify(rows, null, 1));
    else {
      console.log(`memory per byte of file data (${at('--mib') ?? 64} MiB per pattern; growth after a full GC / bytes held)`);
      console.log(`${'pattern'.padEnd(20)} ${'arrayBuffers'.padStart(12)} ${'rss'.padStart(7)} ${'maxRSS'.padStart(7)} ${'heap'.padStart(7)} ${'write ms'.padStart(9)}`);
      for (const r of rows) console.log(`${r.pattern.padEnd(20)} ${r.arrayBuffers.toFixed(3).padStart(12)} ${r.rss.toFixed(3).padStart(7)} ${r.maxRSS.toFixed(3).padStart(7)} ${r.heap.toFixed(3).padStart(7)} ${r.ms.toFixed(1).padStart(9)}`);
    }
  }
}
