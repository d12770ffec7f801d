// The benchmark cases. Each case measures every host the same way and
// returns table rows; see bench/README.md for what each figure means.

import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runP4 } from './p4-images.js';
import { p1b, p4b, p5b } from './p1-images.js';
import { p1p, p7, poolCallRows } from './pool-cases.js';
import { p6 } from './p6-snapshots.js';
import {
  GuestFailure,
  Skip,
  check,
  checkGuestClock,
  clockGranularity,
  parseGuestOutput,
  perCallSeries,
  callSizes,
  quantile,
  repeat,
  summary,
  timedRun,
} from './measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {import('./peers.js').Peer} Peer
 * @typedef {import('./peers.js').Guest} Guest
 * @typedef {{ median: number, min?: number, max?: number, n?: number }} Stat
 * @typedef {{ status: 'ok', median: number, min?: number, max?: number, n?: number, samples?: number[], info?: Record<string, unknown> }
 *   | { status: 'na' | 'error' | 'missing' | 'notbuilt', reason: string, kind?: string }} Cell
 * @typedef {'ns' | 'bytes' | 'x'} Unit
 * @typedef {{ text: string, verdict: 'meets' | 'misses' | 'unknown' }} TargetResult
 * @typedef {(row: Row, rows: Map<string, Row>) => TargetResult} Target
 * @typedef {{ key: string, caseId: string, label: string, unit: Unit, cells: Record<string, Cell>, target?: Target, targetResult?: TargetResult, merged?: string }} Row
 * @typedef {object} Ctx
 * @property {boolean} quick
 * @property {Array<Peer & { initError?: string }>} peers
 * @property {Record<'hello' | 'calls' | 'append' | 'meta' | 'bulk', Guest>} guests
 * @property {(peer: Peer, guest: Guest) => Promise<any>} handle   cached peer.load
 * @property {(msg: string) => void} log
 * @property {string[]} notes      free-form lines printed under the table
 * @property {Record<string, unknown>} extra   case data for the JSON only
 * @typedef {{ id: string, title: string, run: (ctx: Ctx) => Promise<Row[]> }} Case
 */

const STRATA = 'strata';

/**
 * Turns a failure into a cell. strata must do every case, so any failure of
 * strata is an error; a peer's failure means it cannot do the case (n/a).
 * @param {Peer} peer
 * @param {unknown} e
 * @returns {Cell}
 */
function failureCell(peer, e) {
  const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
  if (e instanceof Skip) return { status: 'na', reason: msg, kind: 'skip' };
  const kind = e instanceof GuestFailure ? 'guest' : 'threw';
  const reason = kind === 'threw' ? `threw: ${msg}` : msg;
  return peer.id === STRATA ? { status: 'error', reason, kind } : { status: 'na', reason, kind };
}

/**
 * Measures every host with `fn` and builds one row per metric.
 * `fn` returns, per metric key, raw samples (summarised here) or a Stat.
 * @param {Ctx} ctx
 * @param {string} caseId
 * @param {Array<{ key: string, label: string, unit: Unit, target?: Target }>} metrics
 * @param {(peer: Peer) => Promise<{ values: Record<string, number[] | Stat>, info?: Record<string, unknown> }>} fn
 * @returns {Promise<Row[]>}
 */
async function measureAll(ctx, caseId, metrics, fn) {
  /** @type {Row[]} */
  const rows = metrics.map((m) => ({ key: `${caseId}.${m.key}`, caseId, label: m.label, unit: m.unit, cells: {}, ...(m.target ? { target: m.target } : {}) }));
  for (const peer of ctx.peers) {
    /** @type {(cell: Cell) => void} */
    const setAll = (cell) => rows.forEach((r) => (r.cells[peer.id] = cell));
    if (peer.initError !== undefined) {
      setAll(peer.id === STRATA ? { status: 'missing', reason: peer.initError } : { status: 'na', reason: `unavailable: ${peer.initError}`, kind: 'init' });
      continue;
    }
    globalThis.gc?.();
    try {
      const { values, info } = await fn(peer);
      metrics.forEach((m, i) => {
        const v = values[m.key];
        if (v === undefined) throw new Error(`bench bug: ${caseId} produced no ${m.key}`);
        const stat = Array.isArray(v) ? { ...summary(v), samples: v } : v;
        /** @type {Row} */ (rows[i]).cells[peer.id] = { status: 'ok', ...stat, ...(info ? { info } : {}) };
      });
      const first = /** @type {Row} */ (rows[0]).cells[peer.id];
      ctx.log(`${caseId} ${peer.id}: ${first && first.status === 'ok' ? 'ok' : '?'}`);
    } catch (e) {
      const cell = failureCell(peer, e);
      setAll(cell);
      ctx.log(`${caseId} ${peer.id}: ${cell.status}: ${'reason' in cell ? cell.reason : ''}`);
    }
  }
  return rows;
}

/** A row for a feature strata has not built yet; no host is measured. */
function notBuilt(/** @type {string} */ caseId, /** @type {string} */ label, /** @type {string} */ issue) {
  return { key: caseId, caseId, label, unit: /** @type {Unit} */ ('ns'), cells: {}, merged: `not built yet (issue: ${issue})` };
}

/**
 * Runs `use` on a root made by `make`, and disposes of the root afterwards
 * (outside any timing done inside `use`).
 * @template T
 * @param {Peer} peer
 * @param {() => Promise<any>} make
 * @param {(root: any) => Promise<T>} use
 */
async function withRoot(peer, make, use) {
  const root = await make();
  try {
    return await use(root);
  } finally {
    await peer.disposeRoot(root);
  }
}

/** Repetition plans. */
const plans = {
  quick: { warmup: 0, reps: 2, minReps: 2, budgetMs: Infinity },
  full: { warmup: 1, reps: 7, minReps: 3, budgetMs: 20_000 },
};

// ---------------------------------------------------------------- targets

/** @param {Row} row */
const strataCell = (row) => row.cells[STRATA];

/**
 * @param {string} text
 * @param {(strata: number) => boolean} ok
 * @returns {Target}
 */
function strataTarget(text, ok) {
  return (row) => {
    const c = strataCell(row);
    if (!c || c.status !== 'ok') return { text, verdict: 'unknown' };
    return { text, verdict: ok(c.median) ? 'meets' : 'misses' };
  };
}

// ---------------------------------------------------------------- P1

/** @type {Case} */
const p1 = {
  id: 'P1',
  title: 'spawn→exit of hello.wasm',
  async run(ctx) {
    const n = ctx.quick ? { warm: 5, runs: 30 } : { warm: 100, runs: 1000 };
    const budgetMs = ctx.quick ? Infinity : 20_000;
    /**
     * @param {Peer} peer
     * @param {boolean} fresh  a new root per run (timed), or one root for all runs
     */
    const series = async (peer, fresh) => {
      const h = await ctx.handle(peer, ctx.guests.hello);
      const shared = fresh ? undefined : await peer.createRoot();
      /** @type {number[]} */
      const samples = [];
      const start = performance.now();
      try {
        for (let i = 0; i < n.warm + n.runs; i++) {
          const t0 = performance.now();
          const root = shared ?? (await peer.createRoot());
          const r = await peer.run(root, h, []);
          const ns = (performance.now() - t0) * 1e6;
          if (!shared) await peer.disposeRoot(root);
          check(r, []);
          if (r.stdout !== 'hello, world\n') throw new GuestFailure(`hello printed ${JSON.stringify(r.stdout.slice(0, 40))}`);
          if (i >= n.warm) samples.push(ns);
          if (samples.length >= 200 && performance.now() - start > budgetMs) break;
        }
      } finally {
        if (shared) await peer.disposeRoot(shared);
      }
      const sorted = [...samples].sort((a, b) => a - b);
      return { p50: samples, p99: { median: quantile(sorted, 0.99), n: samples.length } };
    };
    /** @type {Target} */
    const vsShared = (row, rows) => {
      const base = rows.get('P1.shared.p50')?.cells['node:wasi'];
      const s = strataCell(row);
      const text = `≤ node:wasi shared-root p50${base?.status === 'ok' ? ` (${fmtNs(base.median)})` : ''}`;
      if (!s || s.status !== 'ok' || !base || base.status !== 'ok') return { text, verdict: 'unknown' };
      return { text, verdict: s.median <= base.median ? 'meets' : 'misses' };
    };
    const fresh = await measureAll(
      ctx,
      'P1',
      [
        { key: 'fresh.p50', label: 'hello, fresh root per run: p50', unit: 'ns', target: vsShared },
        { key: 'fresh.p99', label: 'hello, fresh root per run: p99', unit: 'ns' },
      ],
      async (peer) => {
        const v = await series(peer, true);
        return { values: { 'fresh.p50': v.p50, 'fresh.p99': v.p99 } };
      },
    );
    const shared = await measureAll(
      ctx,
      'P1',
      [
        { key: 'shared.p50', label: 'hello, one shared root: p50', unit: 'ns' },
        { key: 'shared.p99', label: 'hello, one shared root: p99', unit: 'ns' },
      ],
      async (peer) => {
        const v = await series(peer, false);
        return { values: { 'shared.p50': v.p50, 'shared.p99': v.p99 } };
      },
    );

    // The floor: what V8 alone needs to instantiate hello.wasm, with every
    // import a no-op and no WASI host at all.
    const mod = ctx.guests.hello.module;
    /** @type {Record<string, Record<string, () => number>>} */
    const stubs = {};
    for (const imp of WebAssembly.Module.imports(mod)) {
      if (imp.kind !== 'function') throw new Error(`hello.wasm imports a ${imp.kind}; the floor stubs only functions`);
      (stubs[imp.module] ??= {})[imp.name] = () => 0;
    }
    /** @type {number[]} */
    const floor = [];
    for (let i = 0; i < n.warm + n.runs; i++) {
      const t0 = performance.now();
      new WebAssembly.Instance(mod, stubs);
      const ns = (performance.now() - t0) * 1e6;
      if (i >= n.warm) floor.push(ns);
    }
    const f = summary(floor);
    const p99 = quantile([...floor].sort((a, b) => a - b), 0.99);
    ctx.extra.p1Floor = { ...f, p99, samples: floor };
    ctx.notes.push(
      `P1 floor: bare new WebAssembly.Instance(hello.wasm, no-op imports), no WASI host: p50 ${fmtNs(f.median)} [${fmtNs(f.min)}–${fmtNs(f.max)}], p99 ${fmtNs(p99)} (${f.n} runs)`,
    );
    // strata only: the same fresh-root run with a timeout armed, which starts
    // V8's watchdog thread for the run. No peer has a timeout to compare.
    const strata = ctx.peers.find((p) => p.id === 'strata' && !p.initError);
    if (strata) {
      const h = await ctx.handle(strata, ctx.guests.hello);
      /** @type {number[]} */
      const timed = [];
      for (let i = 0; i < n.warm + n.runs; i++) {
        const t0 = performance.now();
        const root = await strata.createRoot();
        const r = await strata.run(root, h, [], { timeoutMs: 60_000 });
        const ns = (performance.now() - t0) * 1e6;
        check(r, []);
        if (i >= n.warm) timed.push(ns);
      }
      const t = summary(timed);
      ctx.notes.push(
        `P1 strata with timeoutMs set (arms V8's watchdog thread per run): p50 ${fmtNs(t.median)} [${fmtNs(t.min)}–${fmtNs(t.max)}] (${t.n} runs)`,
      );
    }
    return [...fresh, ...shared];
  },
};

// ---------------------------------------------------------------- P2

/** @type {Array<{ op: string, label: string, short: string, target?: Target }>} */
const callLabels = [
  { op: 'clock', label: 'clock_time_get (per call)', short: 'clock_time_get', target: strataTarget('≤ 50 ns', (v) => v <= 50) },
  { op: 'write16', label: 'fd_write 16 B to a file (per call)', short: 'fd_write 16 B', target: strataTarget('≤ 250 ns', (v) => v <= 250) },
  { op: 'read16', label: 'fd_pread 16 B from a file (per call)', short: 'fd_pread 16 B' },
  { op: 'stat', label: 'path_filestat_get of one path (per call)', short: 'path_filestat_get' },
  { op: 'readdir', label: 'fd_readdir, 1,000-entry dir (per listing)', short: 'fd_readdir 1,000' },
];
const callOps = callSizes.map((s) => ({ ...s, .../** @type {typeof callLabels[number]} */ (callLabels.find((l) => l.op === s.op)) }));

/** @type {Case} */
const p2 = {
  id: 'P2',
  title: 'per-call cost of WASI calls',
  async run(ctx) {
    /** @type {Row[]} */
    const rows = [];
    for (const o of callOps) {
      const r = await measureAll(ctx, 'P2', [{ key: o.op, label: o.label, unit: 'ns', ...(o.target ? { target: o.target } : {}) }], async (peer) => {
        const h = await ctx.handle(peer, ctx.guests.calls);
        /** @param {number} n */
        const once = (n) => withRoot(peer, () => peer.createRoot(), async (root) => (await timedRun(peer, root, h, [o.op, String(n)])).ns);
        const { samples, n } = await perCallSeries(o, ctx.quick, once);
        return { values: { [o.op]: samples }, info: { callsPerRun: n } };
      });
      rows.push(...r);
    }
    // The same calls from inside a pooled sandbox, one row under each.
    return poolCallRows(ctx, rows, callOps);
  },
};

// ---------------------------------------------------------------- P2b

/** @type {Case} */
const p2b = {
  id: 'P2b',
  title: 'append scaling: 100k appends of 16 B',
  async run(ctx) {
    const [total, win] = ctx.quick ? [10_000, 1_000] : [100_000, 10_000];
    const k = `${win / 1000}k`;
    /** @type {Target} */
    const flat = (row) => {
      const c = strataCell(row);
      const text = 'flat: last ≤ 1.5× first';
      if (!c || c.status !== 'ok') return { text, verdict: 'unknown' };
      return { text, verdict: c.median <= 1.5 ? 'meets' : 'misses' };
    };
    return measureAll(
      ctx,
      'P2b',
      [
        { key: 'first', label: `append 16 B: first ${k} (per write)`, unit: 'ns' },
        { key: 'last', label: `append 16 B: last ${k} (per write)`, unit: 'ns' },
        { key: 'growth', label: 'append 16 B: last / first', unit: 'x', target: flat },
      ],
      async (peer) => {
        const h = await ctx.handle(peer, ctx.guests.append);
        /** @type {number[]} */
        const reported = [];
        const reps = await repeat(ctx.quick ? plans.quick : { ...plans.full, reps: 5 }, () =>
          withRoot(peer, () => peer.createRoot(), async (root) => {
            const { ns, stdout } = await timedRun(peer, root, h, [String(total), String(win)]);
            const { windows } = parseGuestOutput(stdout);
            if (windows.length !== total / win) throw new GuestFailure(`bench-append printed ${windows.length} windows, want ${total / win}`);
            checkGuestClock(windows.reduce((a, b) => a + b, 0), ns);
            reported.push(...windows);
            const first = /** @type {number} */ (windows[0]) / win;
            const last = /** @type {number} */ (windows[windows.length - 1]) / win;
            return { first, last, growth: last / Math.max(first, 1e-9), windows: windows.map((w) => w / win) };
          }),
        );
        return {
          values: { first: reps.map((r) => r.first), last: reps.map((r) => r.last), growth: reps.map((r) => r.growth) },
          info: { clockGranularityNs: clockGranularity(reported), perWriteByWindow: reps.map((r) => r.windows) },
        };
      },
    );
  },
};

// ---------------------------------------------------------------- P3

/** @type {Case} */
const p3 = {
  id: 'P3',
  title: 'metadata throughput: 10k files in 100 dirs',
  async run(ctx) {
    const [files, dirs] = ctx.quick ? [1_000, 10] : [10_000, 100];
    const phases = ['create', 'stat', 'rename', 'unlink'];
    const what = `${files / 1000}k files`;
    return measureAll(
      ctx,
      'P3',
      [
        { key: 'create', label: `create+write 16 B, ${what}`, unit: 'ns' },
        { key: 'stat', label: `stat, ${what}`, unit: 'ns' },
        { key: 'rename', label: `rename to next dir, ${what}`, unit: 'ns' },
        { key: 'unlink', label: `unlink, ${what}`, unit: 'ns' },
        { key: 'total', label: `total, ${what} in ${dirs} dirs`, unit: 'ns', target: strataTarget('≤ 40 ms', (v) => v <= 40e6) },
      ],
      async (peer) => {
        const h = await ctx.handle(peer, ctx.guests.meta);
        /** @type {number[]} */
        const reported = [];
        const reps = await repeat(ctx.quick ? plans.quick : plans.full, () =>
          withRoot(peer, () => peer.createRoot(), async (root) => {
            const { ns, stdout } = await timedRun(peer, root, h, [String(files), String(dirs)]);
            const { values } = parseGuestOutput(stdout);
            /** @type {Record<string, number>} */
            const out = {};
            for (const p of phases) {
              const v = values[p];
              if (v === undefined) throw new GuestFailure(`bench-meta printed no ${p}`);
              out[p] = v;
              reported.push(v);
            }
            out.total = phases.reduce((a, p) => a + (out[p] ?? 0), 0);
            checkGuestClock(out.total, ns);
            return out;
          }),
        );
        /** @type {Record<string, number[]>} */
        const values = {};
        for (const key of [...phases, 'total']) values[key] = reps.map((r) => /** @type {number} */ (r[key]));
        return { values, info: { clockGranularityNs: clockGranularity(reported) } };
      },
    );
  },
};

// ---------------------------------------------------------------- P3b

/** Longest single 256 MiB run the estimate may predict before the size is skipped. */
const P3B_RUN_BUDGET_NS = 60e9;

/** @type {Case} */
const p3b = {
  id: 'P3b',
  title: 'bulk I/O: write then read 256 MiB in 64 KiB chunks',
  async run(ctx) {
    const mib = ctx.quick ? 16 : 256;
    return measureAll(
      ctx,
      'P3b',
      [
        { key: 'write', label: `write ${mib} MiB, 64 KiB chunks`, unit: 'ns' },
        { key: 'read', label: `read ${mib} MiB, 64 KiB chunks`, unit: 'ns' },
      ],
      async (peer) => {
        const h = await ctx.handle(peer, ctx.guests.bulk);
        /** @param {number} size */
        const once = (size) =>
          withRoot(peer, () => peer.createRoot(), async (root) => {
            const { ns, stdout } = await timedRun(peer, root, h, [String(size), '64']);
            const { values } = parseGuestOutput(stdout);
            if (values.write === undefined || values.read === undefined) throw new GuestFailure('bench-bulk printed no write/read');
            checkGuestClock(values.write + values.read, ns);
            return { ns, write: values.write, read: values.read };
          });
        if (!ctx.quick) {
          // Probe at 8 and 16 MiB (this is also the warm-up), and skip the
          // full size when the growth from 8 to 16 predicts a run too long.
          const a = await once(8);
          const b = await once(16);
          const k = Math.min(3, Math.max(1, Math.log2(b.ns / a.ns)));
          const est = b.ns * Math.pow(mib / 16, k);
          if (est > P3B_RUN_BUDGET_NS) {
            throw new Skip(
              `too slow: 8→16 MiB took ${fmtNs(a.ns)}→${fmtNs(b.ns)} (time ∝ size^${k.toFixed(1)}), so ${mib} MiB would take ~${fmtNs(est)} > ${fmtNs(P3B_RUN_BUDGET_NS)} budget; 16 MiB write ${fmtNs(b.write)}, read ${fmtNs(b.read)}`,
            );
          }
        }
        const reps = await repeat(ctx.quick ? plans.quick : { ...plans.full, warmup: 0, reps: 3, minReps: 3 }, () => once(mib));
        const mibps = (/** @type {number} */ ns) => Math.round((mib / (ns / 1e9)) * 10) / 10;
        return {
          values: { write: reps.map((r) => r.write), read: reps.map((r) => r.read) },
          info: { mib, writeMiBps: reps.map((r) => mibps(r.write)), readMiBps: reps.map((r) => mibps(r.read)) },
        };
      },
    );
  },
};

// ---------------------------------------------------------------- P5

/** @type {Case} */
const p5 = {
  id: 'P5',
  title: 'RSS per idle sandbox',
  async run(ctx) {
    const count = ctx.quick ? 50 : 1000;
    const reps = ctx.quick ? 1 : 3;
    const metrics = [
      { key: 'rss', label: `RSS per idle sandbox (${count} held)`, unit: /** @type {Unit} */ ('bytes') },
      { key: 'heap', label: 'JS heap + external per idle sandbox', unit: /** @type {Unit} */ ('bytes') },
    ];
    return measureAll(ctx, 'P5', metrics, async (peer) => {
      if (!peer.createIdle) throw new Skip(`no equivalent: ${peer.idleNa ?? 'no idle sandbox'}`);
      /** @type {number[]} */
      const rss = [];
      /** @type {number[]} */
      const heap = [];
      for (let i = 0; i < reps; i++) {
        // A fresh process per measurement: RSS never shrinks back, so one
        // process cannot measure several hosts, or one host twice.
        const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'rss-probe.js'), peer.id, String(count)], { encoding: 'utf8' });
        const line = r.stdout.trim().split('\n').pop() ?? '';
        if (r.status !== 0 || !line.startsWith('{')) {
          const why = (r.stderr || r.stdout).trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status}`;
          throw new GuestFailure(`rss-probe failed: ${why}`);
        }
        const out = JSON.parse(line);
        rss.push(out.rssPerSandbox);
        heap.push(out.heapPerSandbox);
      }
      return { values: { rss, heap }, info: { count } };
    });
  },
};

// ---------------------------------------------------------------- not built yet

/** @type {Case} */
const p4 = {
  id: 'P4',
  title: 'image pull and index',
  async run(ctx) {
    try {
      return /** @type {Row[]} */ (await runP4(/** @type {any} */ (ctx)));
    } catch (e) {
      if (!(e instanceof Skip)) throw e;
      return [{ key: 'P4', caseId: 'P4', label: 'image pull and index', unit: /** @type {Unit} */ ('ns'), cells: {}, merged: `n/a: ${e.message}` }];
    }
  },
};
/** All cases in table order. */
export const cases = [p1, p1p, p1b, p2, p2b, p3, p3b, p4, p4b, p5, p5b, p6, p7];

// ---------------------------------------------------------------- formatting

/** @param {number} ns */
export function fmtNs(ns) {
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${sig(ns)} ns`;
  if (abs < 1e6) return `${sig(ns / 1e3)} µs`;
  if (abs < 1e9) return `${sig(ns / 1e6)} ms`;
  return `${sig(ns / 1e9)} s`;
}

/** Three significant digits, no exponent. @param {number} x */
export function sig(x) {
  const abs = Math.abs(x);
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
