// The worker pool's rows (issue 10), measured in child processes so that
// the pool's workers and its inspector session never share a process with
// the in-process peers:
//   P1p  hello spawn→exited on a warm pool worker (p50/p99) beside
//        in-thread run(hello) in that same process; 1,000 sandboxes
//        created and spawned at once on the pool (total, per sandbox, RSS).
//   P7   kill latency of a guest spinning without syscalls (p50/p99), a
//        timeout's lateness, event-loop lag while 4 guests spin (p99/max)
//        and a 5 ms timer's max gap; beside node:wasi with each guest in a
//        worker_thread of its own, killed with worker.terminate().
//   P2 pool rows  per-call costs from inside a pooled sandbox, beside the
//        in-thread P2 rows (see poolCallRows).
// bench/pool.js and bench/pool-calls.js do the measuring; they write JSON
// (--json FILE), read here. A peer has no worker pool: its cells are n/a,
// except node:wasi's in P7, which a worker of its own per guest can do.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { quantile, summary } from './measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const STRATA = 'strata';

/**
 * @typedef {import('./cases.js').Ctx} Ctx
 * @typedef {import('./cases.js').Row} Row
 * @typedef {import('./cases.js').Cell} Cell
 * @typedef {import('./cases.js').Unit} Unit
 * @typedef {import('./cases.js').Target} Target
 */

const NO_POOL = "no equivalent: no worker pool; its guests run on the caller's thread";

let seq = 0;
/**
 * Runs `node bench/SCRIPT ARGS --json FILE` and returns the JSON. Without
 * --expose-gc: SandboxPool's workers refuse it (ERR_WORKER_INVALID_EXEC_ARGV).
 * @param {Ctx} ctx @param {string} script @param {string[]} args
 */
export function runChild(ctx, script, args) {
  const file = path.join(os.tmpdir(), `strata-bench-${process.pid}-${seq++}.json`);
  const all = [...args, ...(ctx.quick ? ['--quick'] : []), '--json', file];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(here, script), ...all], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 20 * 60_000,
  });
  try {
    if (r.status !== 0 || !fs.existsSync(file)) {
      const lines = (r.stderr || r.stdout || '').trim().split('\n').filter(Boolean);
      const why = lines.find((l) => /^\w*Error\b|^Error \[/.test(l)) ?? lines.filter((l) => !l.startsWith('Node.js v')).pop() ?? '';
      throw new Error(`${script} ${args.join(' ')}: ${r.signal ? `killed by ${r.signal}` : `exit ${r.status}`}${why ? `: ${why}` : ''}`);
    }
    ctx.log(`  ${script} ${args.join(' ')}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** ms samples → an ok cell in ns (median, min, max, all samples). @param {number[]} ms @returns {Cell} */
const nsCell = (ms) => {
  const ns = ms.map((x) => x * 1e6);
  return { status: 'ok', ...summary(ns), samples: ns };
};
/** The p99 of ms samples, in ns, as a one-figure cell. @param {number[]} ms @returns {Cell} */
const p99Cell = (ms) => ({ status: 'ok', median: quantile([...ms].sort((a, b) => a - b), 0.99) * 1e6, n: ms.length });

/**
 * Rows whose cells are set per host by the caller; hosts not set get
 * `fallback(host)`: missing for an unbuilt strata, n/a for a peer.
 * @param {Ctx} ctx @param {string} caseId
 * @param {Array<{ key: string, label: string, unit: Unit, target?: Target }>} metrics
 */
function newRows(ctx, caseId, metrics) {
  /** @type {Row[]} */
  const rows = metrics.map((m) => ({ key: `${caseId}.${m.key}`, caseId, label: m.label, unit: m.unit, cells: {}, ...(m.target ? { target: m.target } : {}) }));
  const byKey = new Map(metrics.map((m, i) => [m.key, /** @type {Row} */ (rows[i])]));
  return {
    rows,
    /** @param {string} key @param {string} host @param {Cell} cell */
    set(key, host, cell) {
      const row = byKey.get(key);
      if (!row) throw new Error(`bench bug: ${caseId} has no row ${key}`);
      row.cells[host] = cell;
    },
    /** Every cell of `host` not yet set. @param {string} host @param {Cell} cell */
    fill(host, cell) {
      for (const row of rows) row.cells[host] ??= cell;
    },
  };
}

/** @param {Ctx} ctx */
const strataHost = (ctx) => ctx.peers.find((p) => p.id === STRATA);

/**
 * strata's pool figures (P1 on the pool, P7, images), one child per bench
 * run, shared by P1p and P7.
 * @type {Promise<any> | undefined}
 */
let strataPool;
/** @param {Ctx} ctx */
function strataPoolFigures(ctx) {
  strataPool ??= Promise.resolve().then(() => {
    ctx.log('  bench/pool.js (strata: P1 on the pool, P7, images per worker) in a child process');
    return runChild(ctx, 'pool.js', ['--only', 'p1,p7,image']);
  });
  return strataPool;
}

/** @param {string} text @param {number} limitNs @returns {Target} */
const atMost = (text, limitNs) => (row) => {
  const c = row.cells[STRATA];
  if (!c || c.status !== 'ok') return { text, verdict: 'unknown' };
  return { text, verdict: c.median <= limitNs ? 'meets' : 'misses' };
};

// ---------------------------------------------------------------- P1p

/** @type {import('./cases.js').Case} */
export const p1p = {
  id: 'P1p',
  title: 'spawn→exit on the worker pool: one at a time, and 1,000 at once',
  async run(ctx) {
    const count = ctx.quick ? 200 : 1000;
    const reps = ctx.quick ? 1 : 3;
    const k = count.toLocaleString('en-US');
    const r = newRows(ctx, 'P1p', [
      { key: 'spawn.p50', label: 'hello, spawn→exited on a pool worker: p50', unit: 'ns' },
      { key: 'spawn.p99', label: 'hello, spawn→exited on a pool worker: p99', unit: 'ns' },
      { key: 'inThread.p50', label: "hello in-thread, the pool's process: p50", unit: 'ns' },
      { key: 'inThread.p99', label: "hello in-thread, the pool's process: p99", unit: 'ns' },
      { key: 'tp.total', label: `${k} sandboxes at once: create + run all`, unit: 'ns' },
      { key: 'tp.per', label: `${k} at once: per sandbox`, unit: 'ns' },
      { key: 'tp.rss', label: `${k} at once: RSS growth, whole process`, unit: 'bytes' },
    ]);
    const s = strataHost(ctx);
    if (s && s.initError === undefined) {
      try {
        const f = (await strataPoolFigures(ctx)).figures;
        r.set('spawn.p50', STRATA, nsCell(f['p1.spawn'].samples));
        r.set('spawn.p99', STRATA, p99Cell(f['p1.spawn'].samples));
        r.set('inThread.p50', STRATA, nsCell(f['p1.inThread'].samples));
        r.set('inThread.p99', STRATA, p99Cell(f['p1.inThread'].samples));
        const med = (/** @type {number[]} */ xs) => summary(xs).median;
        ctx.notes.push(
          `P1p (strata, in its child process): run(hello) on the pool p50 ${fmtMs(med(f['p1.run'].samples))}; a warm worker's round trip (fs.exists) p50 ${fmtMs(med(f['p1.roundTrip'].samples))}.`,
        );
        if (f['image.first']) {
          ctx.notes.push(
            `Pool, an image per worker (${f['image.first'].label.replace(/:.*/, '')}): first sandbox on a fresh worker (view rebuilt from the cached indexes) p50 ${fmtMs(med(f['image.first'].samples))}, next one ${fmtMs(med(f['image.second'].samples))} (${f['image.first'].samples.length} workers).`,
          );
        }
        ctx.extra.pool = f;
      } catch (e) {
        const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
        ctx.log(`P1p strata: error: ${msg}`);
        for (const key of ['spawn.p50', 'spawn.p99', 'inThread.p50', 'inThread.p99']) r.set(key, STRATA, { status: 'error', reason: msg, kind: 'threw' });
      }
      // Throughput: a fresh process per sample, so that its RSS growth is
      // the batch's alone.
      try {
        /** @type {any[]} */
        const runs = [];
        for (let i = 0; i < reps; i++) {
          ctx.log(`  bench/pool.js --only throughput (${k} sandboxes), ${i + 1} of ${reps}`);
          runs.push((await runChild(ctx, 'pool.js', ['--only', 'throughput', '--count', String(count)])).figures.throughput);
        }
        r.set('tp.total', STRATA, nsCell(runs.map((t) => t.totalMs)));
        r.set('tp.per', STRATA, nsCell(runs.map((t) => t.totalMs / t.count)));
        const rss = runs.map((t) => t.rssAfter - t.rssBefore);
        r.set('tp.rss', STRATA, { status: 'ok', ...summary(rss), samples: rss });
        const med = (/** @type {number[]} */ xs) => summary(xs).median;
        ctx.notes.push(
          `P1p ${k} at once: a ${runs[0].workers}-worker pool (the default, one per core), warm; ${k} Sandbox.create at once p50 ${fmtMs(med(runs.map((t) => t.createMs)))}, then run(hello) in all at once p50 ${fmtMs(med(runs.map((t) => t.runMs)))} (every output checked); process RSS with all ${k} held ${fmtMiB(med(runs.map((t) => t.rssAfter)))} (median of ${reps} fresh process${reps === 1 ? "" : "es"}).`,
        );
        ctx.extra.poolThroughput = runs;
      } catch (e) {
        const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
        ctx.log(`P1p strata throughput: error: ${msg}`);
        for (const key of ['tp.total', 'tp.per', 'tp.rss']) r.set(key, STRATA, { status: 'error', reason: msg, kind: 'threw' });
      }
      ctx.log('P1p strata: done');
    } else if (s) {
      r.fill(STRATA, { status: 'missing', reason: /** @type {string} */ (s.initError) });
    }
    for (const p of ctx.peers) if (p.id !== STRATA) r.fill(p.id, peerNa(p, NO_POOL));
    return r.rows;
  },
};

/** @param {import('./peers.js').Peer & { initError?: string }} p @param {string} reason @returns {Cell} */
const peerNa = (p, reason) => (p.initError !== undefined ? { status: 'na', reason: `unavailable: ${p.initError}`, kind: 'init' } : { status: 'na', reason, kind: 'skip' });

// ---------------------------------------------------------------- P7

/** @type {import('./cases.js').Case} */
export const p7 = {
  id: 'P7',
  title: 'kill latency, event-loop lag while 4 guests spin',
  async run(ctx) {
    const r = newRows(ctx, 'P7', [
      { key: 'kill.p50', label: 'kill → exited, guest spinning: p50', unit: 'ns', target: atMost('≤ 10 ms', 10e6) },
      { key: 'kill.p99', label: 'kill → exited, guest spinning: p99', unit: 'ns', target: atMost('≤ 10 ms', 10e6) },
      { key: 'timeout.p50', label: 'timeoutMs 20, spinning: lateness p50', unit: 'ns', target: atMost('≤ 10 ms', 10e6) },
      { key: 'delay.p99', label: 'event-loop delay p99, 4 guests spin', unit: 'ns' },
      { key: 'delay.max', label: 'event-loop delay max, 4 guests spin', unit: 'ns' },
      { key: 'timer.max', label: '5 ms timer: max gap, 4 guests spin', unit: 'ns' },
    ]);
    /** @param {string} host @param {any} f */
    const lagCells = (host, f) => {
      const w = f['p7.lag'].windows;
      r.set('delay.p99', host, nsCell(w.map((/** @type {any} */ x) => x.delay.p99)));
      r.set('delay.max', host, nsCell(w.map((/** @type {any} */ x) => x.delay.max)));
      r.set('timer.max', host, nsCell(w.map((/** @type {any} */ x) => x.timerMaxGap)));
    };
    /** @param {any} f */
    const idleNote = (f) => {
      const d = f['p7.idle'].windows[0];
      return `delay p99 ${fmtMs(d.delay.p99)}, max ${fmtMs(d.delay.max)}, 5 ms timer max gap ${fmtMs(d.timerMaxGap)}`;
    };
    /** @type {string[]} */
    const idle = [];
    const s = strataHost(ctx);
    if (s && s.initError === undefined) {
      try {
        const f = (await strataPoolFigures(ctx)).figures;
        r.set('kill.p50', STRATA, nsCell(f['p7.kill'].samples));
        r.set('kill.p99', STRATA, p99Cell(f['p7.kill'].samples));
        r.set('timeout.p50', STRATA, nsCell(f['p7.timeout'].samples));
        lagCells(STRATA, f);
        idle.push(`strata's child ${idleNote(f)}`);
      } catch (e) {
        const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
        ctx.log(`P7 strata: error: ${msg}`);
        r.fill(STRATA, { status: 'error', reason: msg, kind: 'threw' });
      }
    } else if (s) {
      r.fill(STRATA, { status: 'missing', reason: /** @type {string} */ (s.initError) });
    }
    const nodeWasi = ctx.peers.find((p) => p.id === 'node:wasi');
    if (nodeWasi && nodeWasi.initError === undefined) {
      try {
        ctx.log('  bench/pool.js --host node:wasi (a worker_thread per guest) in a child process');
        const f = runChild(ctx, 'pool.js', ['--host', 'node:wasi']).figures;
        r.set('kill.p50', 'node:wasi', nsCell(f['p7.kill'].samples));
        r.set('kill.p99', 'node:wasi', p99Cell(f['p7.kill'].samples));
        r.set('timeout.p50', 'node:wasi', { status: 'na', reason: 'no equivalent: no timeout (a kill is worker.terminate(), above)', kind: 'skip' });
        lagCells('node:wasi', f);
        idle.push(`node:wasi's child ${idleNote(f)}`);
        ctx.extra.p7NodeWasi = f;
        ctx.log('P7 node:wasi: ok');
      } catch (e) {
        const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
        ctx.log(`P7 node:wasi: n/a: ${msg}`);
        r.fill('node:wasi', { status: 'na', reason: `threw: ${msg}`, kind: 'threw' });
      }
    }
    for (const p of ctx.peers) {
      if (p.id === STRATA) continue;
      r.fill(
        p.id,
        peerNa(p, "not measured: no worker pool; in a worker_thread of its own per guest it would do what node:wasi does in this case (the figures are the Worker's, not the WASI host's)"),
      );
    }
    ctx.notes.push(
      `P7: strata kills through the pool (the worker and its other sandboxes survive; checked); node:wasi runs each guest in a worker_thread of its own and is stopped with worker.terminate(), which ends that worker. Lag: a 4-worker pool (strata) or 4 workers (node:wasi) on ${os.availableParallelism()} cores, ${ctx.quick ? '1 window of 0.5 s' : '3 windows of 2 s'}; delay = monitorEventLoopDelay at 1 ms resolution (the figure includes that 1 ms).`,
    );
    if (idle.length > 0) ctx.notes.push(`P7 with nothing spinning, for scale: ${idle.join('; ')}.`);
    return r.rows;
  },
};

// ---------------------------------------------------------------- P2 on the pool

/**
 * P2's per-call costs from inside a pooled sandbox: one row under each
 * in-thread P2 row. strata's cell is the pool's figure (bench/pool-calls.js
 * in a child process, same ops, same N and pairs); the peers' cells are
 * their in-thread figures from the row above (they have no pool), so the
 * ratio reads peer / strata-on-the-pool. The target column gives
 * pool / in-thread.
 * @param {Ctx} ctx @param {Row[]} p2rows  the in-thread P2 rows, one per op
 * @param {Array<{ op: string, short: string }>} ops
 * @returns {Row[]}
 */
export function poolCallRows(ctx, p2rows, ops) {
  /** @type {Row[]} */
  const out = [];
  const s = strataHost(ctx);
  /** @type {any} */
  let json;
  /** @type {Cell | undefined} */
  let failed;
  if (!s || s.initError !== undefined) failed = { status: 'missing', reason: s?.initError ?? 'strata not measured' };
  else {
    try {
      ctx.log('  bench/pool-calls.js (strata on a pool worker) in a child process');
      json = runChild(ctx, 'pool-calls.js', ['--ops', ops.map((o) => o.op).join(',')]);
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
      ctx.log(`P2 pool: error: ${msg}`);
      failed = { status: 'error', reason: msg, kind: 'threw' };
    }
  }
  /** @type {string[]} */
  const same = [];
  ops.forEach((o, i) => {
    const above = /** @type {Row} */ (p2rows[i]);
    /** @type {Target} */
    const unchanged = (row) => {
      const a = above.cells[STRATA];
      const b = row.cells[STRATA];
      if (!a || !b || a.status !== 'ok' || b.status !== 'ok') return { text: 'unchanged from in-thread', verdict: 'unknown' };
      const k = b.median / a.median;
      return { text: `unchanged from in-thread (pool / in-thread ×${k.toFixed(2)}; ≤ ×1.25)`, verdict: k <= 1.25 ? 'meets' : 'misses' };
    };
    /** @type {Row} */
    const row = { key: `P2.pool.${o.op}`, caseId: 'P2', label: `${o.short}, strata on a pool worker`, unit: 'ns', cells: {}, target: unchanged };
    for (const [id, cell] of Object.entries(above.cells)) {
      if (id === STRATA) continue;
      row.cells[id] = cell.status === 'ok' ? { status: 'ok', median: cell.median, min: cell.min, max: cell.max, n: cell.n, info: { sameAs: above.key } } : cell;
    }
    if (failed) row.cells[STRATA] = failed;
    else {
      const p = json.pool[o.op];
      row.cells[STRATA] = { status: 'ok', ...summary(p.samples), samples: p.samples, info: { callsPerRun: p.n } };
      const t = json.inThread[o.op];
      same.push(`${o.short} ${fmtNsShort(summary(t.samples).median)} in-thread, ${fmtNsShort(summary(p.samples).median)} pooled`);
    }
    out.push(above, row);
  });
  if (same.length > 0) {
    ctx.notes.push(
      `P2 pool rows: the peers' cells repeat their in-thread figures (no pool). In the pool's own child process, timed by durationMs, in-thread vs pooled p50: ${same.join('; ')}.`,
    );
    ctx.extra.p2Pool = json;
  }
  return out;
}

/** @param {number} ms */
function fmtMs(ms) {
  return ms >= 1 ? `${ms.toFixed(ms >= 100 ? 0 : 2)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}
/** @param {number} ns */
function fmtNsShort(ns) {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(0)} ns`;
}
/** @param {number} b */
function fmtMiB(b) {
  return `${(b / 2 ** 20).toFixed(0)} MiB`;
}
