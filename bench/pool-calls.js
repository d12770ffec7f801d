// P2 per-call cost on a pool worker beside in-thread: `bench-calls OP N`
// and `bench-calls OP 0`, each in a fresh sandbox (made and closed outside
// the timing), the difference divided by N, with the same N and the same
// pairs as bench/cases.js (bench/measure.js's perCallSeries). On the pool a
// run's time is the worker's own (`exited.durationMs`: instantiate, run,
// exit), so the message hop is not counted; what differs from in-thread is
// the syscall gate (state word and kill flag at each call). In-thread runs
// are timed the same way (`RunResult.durationMs`), in this same process.
//
//   npm run build && node bench/pool-calls.js [--quick] [--ops clock,write16,...] [--json FILE]
//
// `npm run bench` runs it in a child process (P2's pool rows) and reads
// its --json FILE.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { callSizes, perCallSeries, summary } from './measure.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const flag = (/** @type {string} */ name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const jsonOut = flag('--json');
const ops = (flag('--ops') ?? callSizes.map((o) => o.op).join(',')).split(',');

const { SandboxPool, Sandbox, compileGuest } = await import(
  process.env.STRATA_BENCH_DIST ? path.resolve(process.env.STRATA_BENCH_DIST, 'index.js') : path.join(root, 'dist', 'index.js')
);
const guest = await compileGuest(path.join(root, 'guests', 'bin', 'bench-calls.wasm'));
const options = (/** @type {string} */ op, /** @type {number} */ n) => ({ args: [op, String(n)], argv0: 'bench-calls', env: {}, stdin: '' });

const pool = new SandboxPool({ size: 1 });
await (await pool.create()).close(); // the worker is up

/** @param {any} r */
const checked = (r) => {
  if (r.exitCode !== 0) throw new Error(`bench-calls exited ${r.exitCode}: ${new TextDecoder().decode(r.stderr).split('\n')[0]}`);
  return r.durationMs * 1e6;
};
/** @type {Record<string, Record<string, { samples: number[], n: number }>>} */
const out = { pool: {}, inThread: {} };
console.log('op        in-thread ns/call   pool ns/call');
for (const op of ops) {
  const o = callSizes.find((s) => s.op === op);
  if (!o) throw new Error(`unknown op ${op} (ops: ${callSizes.map((s) => s.op).join(', ')})`);
  const inThread = async (/** @type {number} */ n) => {
    const sandbox = await Sandbox.create();
    try {
      return checked(await sandbox.run(guest, options(op, n)));
    } finally {
      await sandbox.close?.();
    }
  };
  const pooled = async (/** @type {number} */ n) => {
    const sandbox = await pool.create();
    try {
      return checked(await sandbox.run(guest, options(op, n)));
    } finally {
      await sandbox.close();
    }
  };
  const a = await perCallSeries(o, quick, inThread);
  const b = await perCallSeries(o, quick, pooled);
  out.inThread[op] = a;
  out.pool[op] = b;
  const med = (/** @type {number[]} */ xs) => summary(xs).median.toFixed(1);
  console.log(`${op.padEnd(9)} ${med(a.samples).padStart(17)} ${med(b.samples).padStart(14)}`);
}
await pool.close();
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ schema: 'strata-pool-calls/1', quick, unit: 'ns per call', ...out }) + '\n');
