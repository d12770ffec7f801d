// Timing, repetition and statistics shared by the cases.

/** A guest that exited non-zero: the host could not do what the case asks. */
export class GuestFailure extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'GuestFailure';
  }
}

/** A case skipped for a peer for a stated reason (too slow, no equivalent). */
export class Skip extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'Skip';
  }
}

/**
 * Runs one guest and checks that it exited 0. Returns the host-measured wall
 * time of `peer.run` in ns (instantiate + start + exit + stdout capture) and
 * the guest's stdout.
 * @param {import('./peers.js').Peer} peer
 * @param {any} root
 * @param {any} handle
 * @param {string[]} args
 * @returns {Promise<{ ns: number, stdout: string }>}
 */
export async function timedRun(peer, root, handle, args) {
  const t0 = performance.now();
  const r = await peer.run(root, handle, args);
  const ns = (performance.now() - t0) * 1e6;
  check(r, args);
  return { ns, stdout: r.stdout };
}

/**
 * @param {import('./peers.js').RunResult} r
 * @param {string[]} args
 */
export function check(r, args) {
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split('\n')[0] || `exit code ${r.exitCode}, no stderr`;
    throw new GuestFailure(`${why} (args: ${args.join(' ')})`);
  }
}

/**
 * Runs `sample` after `warmup` unmeasured calls, `reps` times, but stops once
 * `minReps` samples are in and `budgetMs` has been spent. A warm-up call
 * that alone takes longer than `longRunMs` is kept as the first sample (such a
 * run warms the JIT by itself; repeating it only costs time).
 * @template T
 * @param {{ warmup: number, reps: number, minReps: number, budgetMs: number, longRunMs?: number }} plan
 * @param {() => Promise<T>} sample
 * @returns {Promise<T[]>}
 */
export async function repeat(plan, sample) {
  /** @type {T[]} */
  const out = [];
  const start = performance.now();
  for (let i = 0; i < plan.warmup; i++) {
    const t0 = performance.now();
    const s = await sample();
    if (performance.now() - t0 > (plan.longRunMs ?? 5000)) {
      out.push(s);
      break;
    }
  }
  while (out.length < plan.reps) {
    if (out.length >= plan.minReps && performance.now() - start > plan.budgetMs) break;
    out.push(await sample());
  }
  return out;
}

/** @param {number[]} xs */
export function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: quantile(s, 0.5),
    min: /** @type {number} */ (s[0]),
    max: /** @type {number} */ (s[s.length - 1]),
    n: s.length,
  };
}

/**
 * Linear-interpolated quantile of sorted values.
 * @param {number[]} sorted
 * @param {number} q
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = /** @type {number} */ (sorted[lo]);
  const b = /** @type {number} */ (sorted[hi]);
  return a + (b - a) * (pos - lo);
}

/**
 * Parses the "KEY VALUE" lines a bench guest prints. "window I NS" lines go
 * to `windows`.
 * @param {string} stdout
 */
export function parseGuestOutput(stdout) {
  /** @type {Record<string, number>} */
  const values = {};
  /** @type {number[]} */
  const windows = [];
  for (const line of stdout.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'window' && parts.length === 3) windows[Number(parts[1])] = Number(parts[2]);
    else if (parts.length === 2 && parts[0] && /^\d+$/.test(parts[1] ?? '')) values[parts[0]] = Number(parts[1]);
  }
  return { values, windows };
}

/**
 * Checks figures a guest measured with the host's monotonic clock against
 * the wall time the harness measured around the whole run: the guest's
 * intervals cannot add up to more than the run took. A host whose clock
 * fails this cannot be measured from inside.
 * @param {number} guestNs  sum of the guest's intervals
 * @param {number} wallNs   harness-measured run time
 */
export function checkGuestClock(guestNs, wallNs) {
  // 2 ms slack: two peers' monotonic clocks tick in whole milliseconds.
  if (guestNs > wallNs * 1.05 + 2e6) {
    throw new GuestFailure(
      `guest clock reports ${(guestNs / 1e6).toFixed(1)} ms inside a run that took ${(wallNs / 1e6).toFixed(1)} ms`,
    );
  }
}

/**
 * The coarsest power of ten (in ns, up to 1 ms) that divides every figure
 * a guest reported: a rough resolution of the host's monotonic clock.
 * @param {number[]} ns
 */
export function clockGranularity(ns) {
  let g = 1;
  for (const step of [10, 100, 1000, 10000, 100000, 1000000]) {
    if (ns.length > 0 && ns.every((x) => x % step === 0)) g = step;
  }
  return g;
}

/**
 * The P2 operations of `bench-calls` and the calls per run: the calibration
 * run's (`calN`), the bounds of the chosen N, and the quick run's fixed N.
 * Shared by bench/cases.js (in-process hosts) and bench/pool-calls.js
 * (strata on a pool worker), so both use the same N and the same method.
 */
export const callSizes = [
  { op: 'clock', calN: 20_000, minN: 10_000, maxN: 5_000_000, quickN: 2_000 },
  { op: 'write16', calN: 5_000, minN: 2_000, maxN: 2_000_000, quickN: 1_000 },
  { op: 'read16', calN: 5_000, minN: 2_000, maxN: 2_000_000, quickN: 1_000 },
  { op: 'stat', calN: 5_000, minN: 2_000, maxN: 2_000_000, quickN: 1_000 },
  { op: 'readdir', calN: 10, minN: 3, maxN: 20_000, quickN: 3 },
];

/** Time a P2 run with N calls should take, so that run-to-run noise is small against it. */
export const P2_LOOP_NS = 200e6;

/**
 * One P2 series: a calibration pair picks N (full runs), then pairs of runs
 * with N calls and with 0; each sample is (T(N) − T(0)) / N in ns.
 * @param {typeof callSizes[number]} o
 * @param {boolean} quick
 * @param {(n: number) => Promise<number>} once  ns of one run with n calls (fresh root, outside the timing)
 */
export async function perCallSeries(o, quick, once) {
  let n = o.quickN;
  if (!quick) {
    await once(o.calN); // warm-up
    await once(0);
    const est = ((await once(o.calN)) - (await once(0))) / o.calN;
    n = Math.round(Math.min(o.maxN, Math.max(o.minN, P2_LOOP_NS / Math.max(est, 1))));
  }
  const plan = quick ? { warmup: 0, reps: 2, minReps: 2, budgetMs: Infinity } : { warmup: 0, reps: 7, minReps: 3, budgetMs: 20_000 };
  const samples = await repeat(plan, async () => {
    const withCalls = await once(n);
    const without = await once(0);
    return (withCalls - without) / n;
  });
  return { samples, n };
}
