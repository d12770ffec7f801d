// The worker pool's figures (issue 10): P1 spawn→exit on the pool beside
// in-thread, a warm worker's message round trip, P7 kill latency of a
// guest spinning with no syscalls and event-loop lag while 4 guests spin,
// and the per-worker cost of opening an image (each worker rebuilds its
// view from the store's cached layer indexes).
//
//   npm run build && node bench/pool.js [--quick]
//
// Prints a table of p50/p99/max per figure; timing assertions never go in tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { treeEntries, writeLayout } from './image-fixture.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { SandboxPool, Sandbox, compileGuest, ImageStore } = await import(process.env.STRATA_BENCH_DIST ? path.resolve(process.env.STRATA_BENCH_DIST, 'index.js') : path.join(root, 'dist', 'index.js'));
const quick = process.argv.includes('--quick');
const guest = (name) => path.join(root, 'guests', 'bin', `${name}.wasm`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) };
}
const rows = [];
function row(name, samples, unit = 'ms') {
  const { n, p50, p99, max } = stats(samples);
  rows.push({ name, n, p50: p50.toFixed(3), p99: p99.toFixed(3), max: max.toFixed(3), unit });
}

const hello = await compileGuest(guest('hello'));
const runs = quick ? 50 : 500;

// P1: spawn→exit of hello, in-thread and on a warm pool worker.
{
  const sandbox = await Sandbox.create();
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await sandbox.run(hello, { args: ['x'] });
    samples.push(performance.now() - t);
  }
  row('P1 run(hello) in-thread', samples);
}
{
  const pool = new SandboxPool({ size: 1 });
  const sandbox = await pool.create();
  for (let i = 0; i < 20; i++) await sandbox.run(hello);
  const spawnSamples = [];
  const runSamples = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const child = sandbox.spawn(['hello', 'x'], { module: hello, stdin: '', stdout: () => {} });
    await child.exited;
    spawnSamples.push(performance.now() - t);
    t = performance.now();
    await sandbox.run(hello, { args: ['x'] });
    runSamples.push(performance.now() - t);
  }
  row('P1 spawn(hello)→exited on the pool', spawnSamples);
  row('P1 run(hello) on the pool', runSamples);
  // A warm worker's message round trip: fs.exists on an idle worker.
  const rtt = [];
  for (let i = 0; i < runs * 4; i++) {
    const t = performance.now();
    await sandbox.fs.exists('/');
    rtt.push(performance.now() - t);
  }
  row('round trip: fs.exists on an idle worker', rtt);
  // P7: kill of a guest spinning with no syscalls.
  const kills = [];
  for (let i = 0; i < (quick ? 10 : 50); i++) {
    const child = sandbox.spawn([], { module: guest('spin') });
    await sleep(20);
    const t = performance.now();
    child.kill();
    await child.exited;
    kills.push(performance.now() - t);
  }
  row('P7 kill() of a spinning guest → exited', kills);
  const timeouts = [];
  for (let i = 0; i < (quick ? 5 : 20); i++) {
    const t = performance.now();
    await sandbox.run(guest('spin'), { timeoutMs: 20 }).catch(() => {});
    timeouts.push(performance.now() - t - 20);
  }
  row('P7 timeoutMs 20 of a spinning guest: lateness', timeouts);
  await pool.close();
}

// P7: event-loop lag while 4 guests spin on a 4-worker pool.
{
  const pool = new SandboxPool({ size: 4 });
  const sandboxes = await Promise.all([0, 1, 2, 3].map(() => pool.create()));
  const children = sandboxes.map((s) => s.spawn([], { module: guest('spin') }));
  await sleep(100);
  const gaps = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last - 5);
    last = now;
  }, 5);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(quick ? 500 : 2000);
  histogram.disable();
  clearInterval(timer);
  row(`P7 5 ms timer lateness while 4 guests spin (${os.availableParallelism()} cores)`, gaps);
  rows.push({ name: 'P7 event-loop delay while 4 guests spin (monitorEventLoopDelay)', n: histogram.count, p50: (histogram.percentile(50) / 1e6).toFixed(3), p99: (histogram.percentile(99) / 1e6).toFixed(3), max: (histogram.max / 1e6).toFixed(3), unit: 'ms' });
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.exited));
  await pool.close();
}

// Opening an image per worker: the first sandbox over it on a fresh worker
// (view rebuilt from the cached indexes) against the next one.
{
  const files = quick ? 1000 : 10_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-pool-'));
  try {
    const { reference } = await writeLayout(path.join(dir, 'layout'), treeEntries(files, fs.readFileSync(guest('hello'))));
    const store = await ImageStore.open(path.join(dir, 'store'));
    const warm = new SandboxPool({ size: 1 });
    await warm.create({ image: reference, store }); // pulls and indexes once
    await warm.close();
    const first = [];
    const second = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) {
      const pool = new SandboxPool({ size: 1 });
      await pool.create(); // the worker is up
      let t = performance.now();
      await pool.create({ image: reference, store });
      first.push(performance.now() - t);
      t = performance.now();
      await pool.create({ image: reference, store });
      second.push(performance.now() - t);
      await pool.close();
    }
    row(`image of ${files} files: first sandbox on a worker (view rebuilt)`, first);
    row(`image of ${files} files: next sandbox on that worker`, second);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const width = Math.max(...rows.map((r) => r.name.length));
console.log(`${'figure'.padEnd(width)}  ${'n'.padStart(5)}  ${'p50'.padStart(9)}  ${'p99'.padStart(9)}  ${'max'.padStart(9)}`);
for (const r of rows) console.log(`${r.name.padEnd(width)}  ${String(r.n).padStart(5)}  ${r.p50.padStart(9)}  ${r.p99.padStart(9)}  ${r.max.padStart(9)}  ${r.unit}`);
