// The worker pool's figures (issue 10): P1 spawn→exit on the pool beside
// in-thread, a warm worker's message round trip, P7 kill latency of a
// guest spinning with no syscalls and event-loop lag while 4 guests spin,
// the per-worker cost of opening an image (each worker rebuilds its view
// from the store's cached layer indexes), and the throughput of 1,000
// sandboxes created and spawned at once.
//
//   npm run build && node bench/pool.js [--quick] [--only p1,p7,image,throughput]
//                                       [--host strata|node:wasi] [--json FILE]
//
// Prints a table of p50/p99/max per figure; timing assertions never go in
// tests. `npm run bench` runs this script in child processes (so that the
// pool's workers and inspector session never share a process with the
// in-process peers) and reads its `--json FILE`.
//
// `--host node:wasi` measures the one thing a peer can do the same way:
// P7 with node:wasi in a worker_thread of its own per guest, stopped with
// worker.terminate(). It does not load strata.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { treeEntries, writeLayout } from './image-fixture.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const flag = (/** @type {string} */ name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const jsonOut = flag('--json');
const host = flag('--host') ?? 'strata';
const only = new Set((flag('--only') ?? (host === 'strata' ? 'p1,p7,image,throughput' : 'p7')).split(','));
if (host !== 'strata' && host !== 'node:wasi') {
  console.error(`pool.js: --host must be strata or node:wasi, got ${host}`);
  process.exit(2);
}
const guest = (/** @type {string} */ name) => path.join(root, 'guests', 'bin', `${name}.wasm`);
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @type {any} */
const strata =
  host === 'strata'
    ? await import(process.env.STRATA_BENCH_DIST ? path.resolve(process.env.STRATA_BENCH_DIST, 'index.js') : path.join(root, 'dist', 'index.js'))
    : undefined;

function stats(/** @type {number[]} */ samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => /** @type {number} */ (s[Math.min(s.length - 1, Math.floor(q * s.length))]);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: /** @type {number} */ (s.at(-1)) };
}
/** Printed rows. @type {Array<{ name: string, n: number, p50: string, p99: string, max: string, unit: string }>} */
const rows = [];
/** Everything measured, for --json: per key, a label and samples in ms (or a summary). @type {Record<string, any>} */
const figures = {};
/** @param {string} key @param {string} name @param {number[]} samples */
function row(key, name, samples, unit = 'ms') {
  const { n, p50, p99, max } = stats(samples);
  rows.push({ name, n, p50: p50.toFixed(3), p99: p99.toFixed(3), max: max.toFixed(3), unit });
  figures[key] = { label: name, unit, samples };
}

const runs = quick ? 50 : 500;

// ---------------------------------------------------------------- P1

if (strata && only.has('p1')) {
  const hello = await strata.compileGuest(guest('hello'));
  // P1: spawn→exit of hello, in-thread and on a warm pool worker.
  {
    const sandbox = await strata.Sandbox.create();
    const samples = [];
    for (let i = 0; i < 20; i++) await sandbox.run(hello, { args: ['x'] });
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await sandbox.run(hello, { args: ['x'] });
      samples.push(performance.now() - t);
    }
    row('p1.inThread', 'P1 run(hello) in-thread', samples);
  }
  {
    const pool = new strata.SandboxPool({ size: 1 });
    const sandbox = await pool.create();
    for (let i = 0; i < 20; i++) await sandbox.run(hello);
    const spawnSamples = [];
    const runSamples = [];
    for (let i = 0; i < runs; i++) {
      let t = performance.now();
      const child = sandbox.spawn(['hello', 'x'], { module: hello, stdin: '', stdout: () => {} });
      const exit = await child.exited;
      spawnSamples.push(performance.now() - t);
      if (exit.code !== 0) throw new Error(`hello on the pool exited ${exit.code} (${exit.reason})`);
      t = performance.now();
      await sandbox.run(hello, { args: ['x'] });
      runSamples.push(performance.now() - t);
    }
    row('p1.spawn', 'P1 spawn(hello)→exited on the pool', spawnSamples);
    row('p1.run', 'P1 run(hello) on the pool', runSamples);
    // A warm worker's message round trip: fs.exists on an idle worker.
    const rtt = [];
    for (let i = 0; i < runs * 4; i++) {
      const t = performance.now();
      await sandbox.fs.exists('/');
      rtt.push(performance.now() - t);
    }
    row('p1.roundTrip', 'round trip: fs.exists on an idle worker', rtt);
    await pool.close();
  }
}

// ---------------------------------------------------------------- P7

/**
 * Event-loop lag on this thread while `start()`'s 4 guests spin: a 5 ms
 * interval timer's gaps and monitorEventLoopDelay, over `windows` windows.
 * @param {() => Promise<{ stop: () => Promise<void> }>} start  4 spinning guests
 */
async function lagWhileSpinning(start) {
  const windows = quick ? 1 : 3;
  const ms = quick ? 500 : 2000;
  const spinning = await start();
  try {
    await sleep(100);
    const out = [];
    for (let w = 0; w < windows; w++) out.push(await lagWindow(ms));
    return out;
  } finally {
    await spinning.stop();
  }
}

/** One window: the gaps of a 5 ms interval timer, and the event-loop delay histogram. @param {number} ms */
async function lagWindow(ms) {
  /** @type {number[]} */
  const gaps = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 5);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(ms);
  histogram.disable();
  clearInterval(timer);
  const g = stats(gaps);
  return {
    timerGaps: gaps,
    timerMaxGap: g.max,
    delay: { n: histogram.count, p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 },
  };
}

/** Records the lag windows as figures: per window, the delay's p99 and max and the timer's max gap. @param {string} who @param {any[]} windows */
function lagFigures(who, windows) {
  const cores = os.availableParallelism();
  figures['p7.lag'] = { label: `event-loop lag while 4 guests spin (${who}, ${cores} cores)`, windows };
  row('p7.delayP99', `P7 event-loop delay p99 while 4 guests spin (${who})`, windows.map((w) => w.delay.p99));
  row('p7.delayMax', `P7 event-loop delay max while 4 guests spin (${who})`, windows.map((w) => w.delay.max));
  row('p7.timerMaxGap', `P7 5 ms timer: max gap while 4 guests spin (${who})`, windows.map((w) => w.timerMaxGap));
  row('p7.timerGaps', `P7 5 ms timer: every gap while 4 guests spin (${who})`, windows.flatMap((w) => w.timerGaps));
}

if (strata && only.has('p7')) {
  const spin = await strata.compileGuest(guest('spin'));
  {
    const pool = new strata.SandboxPool({ size: 1 });
    const sandbox = await pool.create();
    await sandbox.run(await strata.compileGuest(guest('hello')));
    // P7: kill of a guest spinning with no syscalls.
    const kills = [];
    for (let i = 0; i < (quick ? 10 : 50); i++) {
      const child = sandbox.spawn([], { module: spin });
      await sleep(20);
      const t = performance.now();
      child.kill();
      const exit = await child.exited;
      kills.push(performance.now() - t);
      if (exit.reason !== 'killed') throw new Error(`a killed spin ended with ${exit.reason}`);
    }
    row('p7.kill', 'P7 kill() of a spinning guest → exited', kills);
    // The worker and its sandbox survived every kill.
    const after = await sandbox.run(await strata.compileGuest(guest('hello')));
    if (after.exitCode !== 0) throw new Error('hello failed on the worker after the kills');
    const timeouts = [];
    for (let i = 0; i < (quick ? 5 : 20); i++) {
      const t = performance.now();
      await sandbox.run(spin, { timeoutMs: 20 }).catch(() => {});
      timeouts.push(performance.now() - t - 20);
    }
    row('p7.timeout', 'P7 timeoutMs 20 of a spinning guest: lateness', timeouts);
    await pool.close();
  }
  // The machine's own lag, with nothing spinning.
  const idle = await lagWindow(quick ? 500 : 2000);
  figures['p7.idle'] = { label: 'event-loop lag with nothing spinning', windows: [idle] };
  rows.push({ name: 'P7 event-loop delay, nothing spinning', n: idle.delay.n, p50: idle.delay.p50.toFixed(3), p99: idle.delay.p99.toFixed(3), max: idle.delay.max.toFixed(3), unit: 'ms' });
  // P7: event-loop lag while 4 guests spin on a 4-worker pool.
  const pool = new strata.SandboxPool({ size: 4 });
  const windows = await lagWhileSpinning(async () => {
    const sandboxes = await Promise.all([0, 1, 2, 3].map(() => pool.create()));
    const children = sandboxes.map((s) => s.spawn([], { module: spin }));
    return {
      async stop() {
        for (const c of children) c.kill();
        await Promise.all(children.map((c) => c.exited));
      },
    };
  });
  lagFigures('4 pool workers', windows);
  await pool.close();
}

if (host === 'node:wasi') {
  // The same P7 figures for node:wasi, each guest in a worker_thread of its
  // own: the module compiled once here and posted, the WASI host built in
  // the worker; a kill is worker.terminate() (which ends that worker).
  const spin = new WebAssembly.Module(fs.readFileSync(guest('spin')));
  const source = `
    const { WASI } = require('node:wasi');
    const { workerData, parentPort } = require('node:worker_threads');
    process.emitWarning = () => {};
    const wasi = new WASI({ version: 'preview1', args: ['spin'], env: {}, returnOnExit: true });
    const instance = new WebAssembly.Instance(workerData.module, wasi.getImportObject());
    parentPort.postMessage('running');
    wasi.start(instance);
  `;
  const startSpin = () =>
    new Promise((resolve, reject) => {
      const worker = new Worker(source, { eval: true, workerData: { module: spin } });
      worker.once('message', () => resolve(worker));
      worker.once('error', reject);
    });
  /** @param {Worker} worker */
  const terminate = (worker) =>
    new Promise((resolve) => {
      worker.once('exit', resolve);
      void worker.terminate();
    });
  if (only.has('p7')) {
    await terminate(/** @type {Worker} */ (await startSpin())); // warm-up
    const kills = [];
    for (let i = 0; i < (quick ? 10 : 50); i++) {
      const worker = /** @type {Worker} */ (await startSpin());
      await sleep(20);
      const t = performance.now();
      await terminate(worker);
      kills.push(performance.now() - t);
    }
    row('p7.kill', 'P7 worker.terminate() of a spinning guest → exit', kills);
    const idle = await lagWindow(quick ? 500 : 2000);
    figures['p7.idle'] = { label: 'event-loop lag with nothing spinning', windows: [idle] };
    const windows = await lagWhileSpinning(async () => {
      const workers = /** @type {Worker[]} */ (await Promise.all([0, 1, 2, 3].map(startSpin)));
      return {
        async stop() {
          await Promise.all(workers.map(terminate));
        },
      };
    });
    lagFigures('4 node:wasi workers', windows);
  }
}

// ---------------------------------------------------------------- images

// Opening an image per worker: the first sandbox over it on a fresh worker
// (view rebuilt from the cached indexes) against the next one.
if (strata && only.has('image')) {
  const files = quick ? 1000 : 10_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-pool-'));
  try {
    const { reference } = await writeLayout(path.join(dir, 'layout'), treeEntries(files, fs.readFileSync(guest('hello'))));
    const store = await strata.ImageStore.open(path.join(dir, 'store'));
    const warm = new strata.SandboxPool({ size: 1 });
    await warm.create({ image: reference, store }); // pulls and indexes once
    await warm.close();
    const first = [];
    const second = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) {
      const pool = new strata.SandboxPool({ size: 1 });
      await pool.create(); // the worker is up
      let t = performance.now();
      await pool.create({ image: reference, store });
      first.push(performance.now() - t);
      t = performance.now();
      await pool.create({ image: reference, store });
      second.push(performance.now() - t);
      await pool.close();
    }
    row('image.first', `image of ${files} files: first sandbox on a worker (view rebuilt)`, first);
    row('image.second', `image of ${files} files: next sandbox on that worker`, second);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- throughput

// COUNT sandboxes (tmpfs roots) created at once on a pool of the default
// size, then hello spawned in every one at once (all in flight; each
// worker runs one guest at a time), every output checked. The pool's
// workers are started and warm first. RSS is the whole process's (the
// workers' too), so run it in a fresh process to read its growth.
if (strata && only.has('throughput')) {
  const count = Number(flag('--count') ?? (quick ? 200 : 1000));
  const hello = await strata.compileGuest(guest('hello'));
  const pool = new strata.SandboxPool();
  const warm = await Promise.all(Array.from({ length: pool.size }, () => pool.create()));
  for (const s of warm) await s.run(hello);
  for (const s of warm) await s.close();
  globalThis.gc?.();
  const rssBefore = process.memoryUsage.rss();
  const t0 = performance.now();
  const sandboxes = await Promise.all(Array.from({ length: count }, () => pool.create()));
  const t1 = performance.now();
  const results = await Promise.all(sandboxes.map((s) => s.run(hello, { args: ['x'] })));
  const t2 = performance.now();
  const rssAfter = process.memoryUsage.rss();
  const text = new TextDecoder();
  const bad = results.filter((r) => r.exitCode !== 0 || text.decode(r.stdout) !== 'hello, x\n').length;
  if (bad > 0) throw new Error(`${bad} of ${count} runs of hello failed`);
  await Promise.all(sandboxes.map((s) => s.close()));
  await pool.close();
  figures.throughput = {
    label: `${count} sandboxes created and spawned at once on a ${pool.size}-worker pool`,
    count,
    workers: pool.size,
    createMs: t1 - t0,
    runMs: t2 - t1,
    totalMs: t2 - t0,
    rssBefore,
    rssAfter,
  };
  const one = (/** @type {string} */ name, /** @type {number} */ v, unit = 'ms') => rows.push({ name, n: 1, p50: v.toFixed(unit === 'ms' ? 3 : 1), p99: '', max: '', unit });
  one(`${count} sandboxes at once (${pool.size} workers): create all`, t1 - t0);
  one(`${count} sandboxes at once: run(hello) in all → all exited`, t2 - t1);
  one(`${count} sandboxes at once: total`, t2 - t0);
  one(`${count} sandboxes at once: process RSS growth`, (rssAfter - rssBefore) / 2 ** 20, 'MiB');
}

// ---------------------------------------------------------------- output

const width = Math.max(...rows.map((r) => r.name.length));
console.log(`${'figure'.padEnd(width)}  ${'n'.padStart(5)}  ${'p50'.padStart(9)}  ${'p99'.padStart(9)}  ${'max'.padStart(9)}`);
for (const r of rows) console.log(`${r.name.padEnd(width)}  ${String(r.n).padStart(5)}  ${r.p50.padStart(9)}  ${r.p99.padStart(9)}  ${r.max.padStart(9)}  ${r.unit}`);
if (jsonOut) {
  const json = { schema: 'strata-pool-bench/1', host, quick, cores: os.availableParallelism(), figures };
  fs.writeFileSync(jsonOut, JSON.stringify(json) + '\n');
}
