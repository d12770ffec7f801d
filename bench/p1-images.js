// Image roots (issue 9): the figures over an image, beside the peers on a
// fresh copy of the same tree.
//   P1b  spawn→exit of hello in a fresh overlay sandbox over a 10k-file
//        image (strata), beside node:wasi on a fresh host copy of the tree
//        (`cp -a`, inside the timing) and the in-memory peers on a fresh
//        in-memory copy; strata's readonly root for comparison.
//   P4b  a cached image → a first sandbox in a fresh process, for 1k, 10k
//        and 100k files, in phases (store lookup + layer indexes, merging
//        the view, Sandbox.create), and a second sandbox over the open image.
//   P5b  RSS per idle overlay sandbox over the image, beside each in-memory
//        peer holding a copy of the tree per sandbox.
// The image is an OCI layout written by bench/image-fixture.js and opened
// with `openImage('oci:DIR:img', { store })`, which imports it into a
// fresh store once, outside any timing.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GuestFailure, Skip, check, quantile, summary } from './measure.js';
import { copyTree, loadPeerLibs, treeEntries, writeLayout, writeTree } from './image-fixture.js';
import { distEntry, hostTmpBase } from './peers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const STRATA = 'strata';

/**
 * @typedef {import('./cases.js').Ctx} Ctx
 * @typedef {import('./cases.js').Row} Row
 * @typedef {import('./cases.js').Cell} Cell
 * @typedef {import('./cases.js').Unit} Unit
 * @typedef {import('./peers.js').Peer & { initError?: string }} Host
 * @typedef {{ files: number, dir: string, storeDir: string, reference: string, hostTemplate: string, entries: import('./image-fixture.js').TreeEntry[], layerBytes: number, hostKiB: number }} Fixture
 */

/** Image sizes, in files. */
const sizes = (/** @type {boolean} */ quick) => ({ main: quick ? 1_000 : 10_000, ready: quick ? [1_000] : [1_000, 10_000, 100_000] });
const kFiles = (/** @type {number} */ n) => `${n / 1000}k`;

// ---------------------------------------------------------------- fixtures

/** @type {Map<number, Promise<Fixture>>} */
const fixtures = new Map();
/** @type {string[]} */
const toRemove = [];
process.on('exit', () => {
  for (const d of toRemove) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * The image of `files` files: its OCI layout, imported into a store of its
 * own (so its layer indexes are cached there), and the same tree on disk
 * under the host-directory base, as node:wasi's template. Built once per run.
 * @param {Ctx} ctx @param {number} files
 */
function fixture(ctx, files) {
  let f = fixtures.get(files);
  if (!f) {
    f = buildFixture(ctx, files);
    fixtures.set(files, f);
  }
  return f;
}

/** @param {Ctx} ctx @param {number} files @returns {Promise<Fixture>} */
async function buildFixture(ctx, files) {
  const strata = await strataModule();
  const t0 = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-image-'));
  toRemove.push(dir);
  const entries = treeEntries(files, ctx.guests.hello.bytes);
  const { reference, bytes } = await writeLayout(path.join(dir, 'layout'), entries);
  const storeDir = path.join(dir, 'store');
  const store = await strata.ImageStore.open(storeDir);
  await strata.openImage(reference, { store }); // the import into the store: pull + index
  const host = fs.mkdtempSync(path.join(hostTmpBase, 'strata-bench-tree-'));
  toRemove.push(host);
  const hostTemplate = path.join(host, 'root');
  writeTree(hostTemplate, entries);
  const du = spawnSync('du', ['-sk', hostTemplate], { encoding: 'utf8' });
  const hostKiB = Number(du.stdout.split('\t')[0]) || NaN;
  ctx.log(`image of ${files} files: layout, store and host tree in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { files, dir, storeDir, reference, hostTemplate, entries, layerBytes: bytes, hostKiB };
}

/** @type {any} */
let strataMod;
async function strataModule() {
  strataMod ??= await import(pathToFileURL(distEntry).href);
  return strataMod;
}

// ---------------------------------------------------------------- rows

/**
 * Rows of one case; the cells of a host are filled by `fill`, which returns
 * per metric key the samples or a stat. A throw becomes the host's cells:
 * an error for strata, n/a for a peer.
 * @param {Ctx} ctx @param {string} caseId
 * @param {Array<{ key: string, label: string, unit: Unit, target?: import('./cases.js').Target, only?: string }>} metrics
 *   `only: STRATA` marks a figure no peer has; its peer cells are n/a with that reason
 * @param {(host: Host) => Promise<Record<string, number[] | { median: number, min?: number, max?: number, n?: number }>>} fill
 * @param {string} [peerNa]  the reason for metrics marked `only`
 */
async function measureRows(ctx, caseId, metrics, fill, peerNa = 'no equivalent') {
  /** @type {Row[]} */
  const rows = metrics.map((m) => ({ key: `${caseId}.${m.key}`, caseId, label: m.label, unit: m.unit, cells: {}, ...(m.target ? { target: m.target } : {}) }));
  for (const host of ctx.peers) {
    /** @param {Cell} cell */
    const setAll = (cell) => rows.forEach((r) => (r.cells[host.id] = cell));
    if (host.initError !== undefined) {
      setAll(host.id === STRATA ? { status: 'missing', reason: host.initError } : { status: 'na', reason: `unavailable: ${host.initError}`, kind: 'init' });
      continue;
    }
    globalThis.gc?.();
    try {
      const values = await fill(host);
      metrics.forEach((m, i) => {
        const row = /** @type {Row} */ (rows[i]);
        if (m.only === STRATA && host.id !== STRATA) {
          row.cells[host.id] = { status: 'na', reason: peerNa, kind: 'skip' };
          return;
        }
        const v = values[m.key];
        if (v === undefined) throw new Error(`bench bug: ${caseId} produced no ${m.key} for ${host.id}`);
        row.cells[host.id] = Array.isArray(v) ? { status: 'ok', ...summary(v), samples: v } : { status: 'ok', ...v };
      });
      ctx.log(`${caseId} ${host.id}: ok`);
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
      /** @type {Cell} */
      const cell =
        e instanceof Skip
          ? { status: 'na', reason: msg, kind: 'skip' }
          : host.id === STRATA
            ? { status: 'error', reason: msg, kind: 'threw' }
            : { status: 'na', reason: e instanceof GuestFailure ? msg : `threw: ${msg}`, kind: e instanceof GuestFailure ? 'guest' : 'threw' };
      setAll(cell);
      ctx.log(`${caseId} ${host.id}: ${cell.status}: ${'reason' in cell ? cell.reason : ''}`);
    }
  }
  return rows;
}

const median = (/** @type {number[]} */ xs) => quantile([...xs].sort((a, b) => a - b), 0.5);

// ---------------------------------------------------------------- P1b

/** @type {import('./cases.js').Case} */
export const p1b = {
  id: 'P1b',
  title: 'spawn→exit of hello over an image of small files, fresh root per run',
  async run(ctx) {
    const fx = await fixture(ctx, sizes(ctx.quick).main);
    const k = kFiles(fx.files);
    const libs = await loadPeerLibs();
    // strata is cheap per run; a peer copies the whole tree per run, so its
    // series is bounded by time (and the p99 of a short series is its max).
    const plan = ctx.quick
      ? { strata: { warm: 5, runs: 30 }, peer: { warm: 1, runs: 5 }, budgetMs: Infinity, minRuns: 0 }
      : { strata: { warm: 100, runs: 1000 }, peer: { warm: 2, runs: 1000 }, budgetMs: 20_000, minRuns: 30 };
    /** @type {Record<string, { make: number[], run: number[] }>} */
    const parts = {};

    /**
     * @param {Host} host @param {{ warm: number, runs: number }} n
     * @param {() => Promise<any>} make  a fresh root (timed)
     * @param {string} partKey
     */
    const series = async (host, n, make, partKey) => {
      const h = await ctx.handle(host, ctx.guests.hello);
      /** @type {number[]} */ const total = [];
      /** @type {number[]} */ const makeNs = [];
      /** @type {number[]} */ const runNs = [];
      const start = performance.now();
      for (let i = 0; i < n.warm + n.runs; i++) {
        const t0 = performance.now();
        const root = await make();
        const t1 = performance.now();
        const r = await host.run(root, h, []);
        const t2 = performance.now();
        if (host.id !== STRATA) await host.disposeRoot(root);
        check(r, []);
        if (r.stdout !== 'hello, world\n') throw new GuestFailure(`hello printed ${JSON.stringify(r.stdout.slice(0, 40))}`);
        if (i >= n.warm) {
          total.push((t2 - t0) * 1e6);
          makeNs.push((t1 - t0) * 1e6);
          runNs.push((t2 - t1) * 1e6);
        }
        if (total.length >= plan.minRuns && performance.now() - start > plan.budgetMs) break;
      }
      parts[partKey] = { make: makeNs, run: runNs };
      return { p50: total, p99: { median: quantile([...total].sort((a, b) => a - b), 0.99), n: total.length } };
    };

    const src = { entries: fx.entries, hostTemplate: fx.hostTemplate, hostTmpBase };
    const rows = await measureRows(
      ctx,
      'P1b',
      [
        { key: 'overlay.p50', label: `hello, ${k}-file image, fresh root: p50`, unit: 'ns' },
        { key: 'overlay.p99', label: `hello, ${k}-file image, fresh root: p99`, unit: 'ns' },
        { key: 'readonly.p50', label: `hello, ${k}-file image, readonly: p50`, unit: 'ns', only: STRATA },
        { key: 'readonly.p99', label: `hello, ${k}-file image, readonly: p99`, unit: 'ns', only: STRATA },
      ],
      async (host) => {
        if (host.id === STRATA) {
          const strata = await strataModule();
          const store = await strata.ImageStore.open(fx.storeDir);
          const image = await strata.openImage(fx.reference, { store, pull: 'never' });
          const over = await series(host, plan.strata, () => strata.Sandbox.create({ image, root: 'overlay', store }), 'strata overlay');
          const ro = await series(host, plan.strata, () => strata.Sandbox.create({ image, root: 'readonly', store }), 'strata readonly');
          return { 'overlay.p50': over.p50, 'overlay.p99': over.p99, 'readonly.p50': ro.p50, 'readonly.p99': ro.p99 };
        }
        const v = await series(host, plan.peer, async () => copyTree(host.id, src, libs), host.id);
        return { 'overlay.p50': v.p50, 'overlay.p99': v.p99 };
      },
      'no equivalent: a read-only root over one shared tree (strata only, for comparison)',
    );
    const fmt = (/** @type {number[]} */ xs) => fmtMs(median(xs));
    const s = parts['strata overlay'];
    if (s) ctx.notes.push(`P1b strata, fresh overlay root over the ${k}-file image: Sandbox.create p50 ${fmt(s.make)} + run p50 ${fmt(s.run)}.`);
    const copies = Object.entries(parts)
      .filter(([id]) => !id.startsWith(STRATA))
      .map(([id, p]) => `${id} ${fmt(p.make)} (run ${fmt(p.run)}, ${p.make.length} runs)`);
    if (copies.length > 0) ctx.notes.push(`P1b peers, p50 of the fresh copy of the tree alone: ${copies.join('; ')}.`);
    ctx.extra.p1bImage = { files: fx.files, layerBytes: fx.layerBytes, hostKiB: fx.hostKiB, parts };
    return rows;
  },
};

// ---------------------------------------------------------------- probes

/**
 * Run bench/image-probe.js in a fresh process; returns its JSON line.
 * @param {string[]} args @param {Fixture} fx
 */
function probe(args, fx) {
  const spec = { files: fx.files, storeDir: fx.storeDir, reference: fx.reference, hostTemplate: fx.hostTemplate, hostTmpBase };
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'image-probe.js'), ...args, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    const why = (r.stderr || r.stdout).trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status}`;
    throw new Error(`image-probe ${args.join(' ')}: ${why}`);
  }
  return JSON.parse(line);
}

// ---------------------------------------------------------------- P4b

/** @type {import('./cases.js').Case} */
export const p4b = {
  id: 'P4b',
  title: 'cached image → first sandbox, in a fresh process',
  async run(ctx) {
    /** @type {Row[]} */
    const rows = [];
    /** @type {Record<number, number>} */
    const firstBySize = {};
    for (const files of sizes(ctx.quick).ready) {
      const fx = await fixture(ctx, files);
      const k = kFiles(files);
      const reps = ctx.quick ? 1 : files >= 100_000 ? 3 : 5;
      /** @type {import('./cases.js').Target} */
      const goal = (row) => {
        const c = row.cells[STRATA];
        const text = '≤ 5 ms, flat in file count';
        if (!c || c.status !== 'ok') return { text, verdict: 'unknown' };
        return { text, verdict: c.median <= 5e6 ? 'meets' : 'misses' };
      };
      const sizeRows = await measureRows(
        ctx,
        'P4b',
        [
          { key: `${k}.first`, label: `${k} files: cached image → 1st sandbox`, unit: 'ns', target: goal },
          { key: `${k}.lookup`, label: `  ${k}: store record + config`, unit: 'ns', only: STRATA },
          { key: `${k}.indexes`, label: `  ${k}: load cached layer indexes`, unit: 'ns', only: STRATA },
          { key: `${k}.merge`, label: `  ${k}: merge the layer view`, unit: 'ns', only: STRATA },
          { key: `${k}.create`, label: `  ${k}: Sandbox.create over it`, unit: 'ns', only: STRATA },
          { key: `${k}.second`, label: `${k} files: 2nd sandbox, same process`, unit: 'ns' },
        ],
        async (host) => {
          /** @type {Record<string, number[]>} */
          const v = { first: [], second: [], lookup: [], indexes: [], merge: [], create: [] };
          // In a full run, one unmeasured pair first: the files are then in
          // the page cache for every host alike.
          const warm = ctx.quick ? 0 : 1;
          for (let r = 0; r < reps + warm; r++) {
            const t = probe(['ready', host.id, 'total'], fx);
            const p = host.id === STRATA ? probe(['ready', host.id, 'phases'], fx) : {};
            if (r < warm) continue;
            for (const [key, xs] of Object.entries(v)) {
              const x = t[key] ?? p[key];
              if (typeof x === 'number') xs.push(x);
            }
          }
          /** @type {Record<string, number[]>} */
          const out = {};
          for (const [key, xs] of Object.entries(v)) if (xs.length > 0) out[`${k}.${key}`] = xs;
          return out;
        },
        'no equivalent: a peer has no layer index or view; its first sandbox is a copy of the tree',
      );
      const first = sizeRows[0]?.cells[STRATA];
      if (first?.status === 'ok') firstBySize[files] = first.median;
      rows.push(...sizeRows);
    }
    const ns = Object.entries(firstBySize);
    if (ns.length > 1) {
      const [loF, lo] = /** @type {[string, number]} */ (ns[0]);
      const [hiF, hi] = /** @type {[string, number]} */ (ns[ns.length - 1]);
      ctx.notes.push(
        `P4b strata, cached image → first sandbox in a fresh process: ${fmtMs(lo)} at ${kFiles(Number(loF))} files, ${fmtMs(hi)} at ${kFiles(Number(hiF))} files (×${(hi / lo).toFixed(1)} for ×${Number(hiF) / Number(loF)} files). Peers: node:wasi is cp -a of the tree on disk; the in-memory peers read the tree from disk and build their fs; the 2nd sandbox is another copy (in-memory peers copy from the files already read).`,
      );
    }
    return rows;
  },
};

// ---------------------------------------------------------------- P5b

/** @type {import('./cases.js').Case} */
export const p5b = {
  id: 'P5b',
  title: 'RSS per idle overlay sandbox over an image of small files',
  async run(ctx) {
    const fx = await fixture(ctx, sizes(ctx.quick).main);
    const k = kFiles(fx.files);
    // strata's sandboxes share the image; each peer's holds a whole copy, so
    // fewer are held (the figure is per sandbox either way).
    const count = ctx.quick ? { strata: 50, peer: 5 } : { strata: 1000, peer: 20 };
    const reps = ctx.quick ? 1 : 3;
    /** @type {Record<string, number[]>} */
    const shared = {};
    const rows = await measureRows(
      ctx,
      'P5b',
      [
        { key: 'rss', label: `RSS per idle sandbox over ${k}-file image`, unit: 'bytes' },
        { key: 'heap', label: 'JS heap + external per idle sandbox', unit: 'bytes' },
      ],
      async (host) => {
        if (host.id === 'node:wasi') {
          throw new Skip(`no equivalent: its copy is a host directory, ${(fx.hostKiB / 1024).toFixed(1)} MiB of ${hostTmpBase} per sandbox (du), held by the kernel, not this process`);
        }
        const n = host.id === STRATA ? count.strata : count.peer;
        /** @type {number[]} */ const rss = [];
        /** @type {number[]} */ const heap = [];
        for (let i = 0; i < reps; i++) {
          const out = probe(['rss', host.id, String(n)], fx);
          rss.push(out.rssPerSandbox);
          heap.push(out.heapPerSandbox);
          (shared[host.id] ??= []).push(out.sharedRss);
        }
        return { rss, heap };
      },
    );
    const s = shared[STRATA];
    if (s) {
      ctx.notes.push(
        `P5b: strata held ${count.strata} overlay sandboxes over one opened image, each peer ${count.peer} copies of the tree. Opening the ${k}-file image and the first sandbox cost strata ${fmtMiB(median(s))} of RSS once (indexes + merged view, shared by every sandbox over it).`,
      );
    }
    return rows;
  },
};

/** @param {number} ns */
function fmtMs(ns) {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(ns >= 1e8 ? 0 : 2)} ms` : `${(ns / 1e3).toFixed(0)} µs`;
}

/** @param {number} b */
function fmtMiB(b) {
  return `${(b / 2 ** 20).toFixed(1)} MiB`;
}
