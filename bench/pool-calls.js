// P2 per-call cost on a pool worker beside in-thread: bench-calls OP N,
// timed with N calls and with 0, the difference divided by N (as
// bench/cases.js does). On the pool the run's duration is the worker's
// own (`exited.durationMs`), so the message hop is not counted; what
// differs is the syscall gate (state word and kill flag at each call).
//
//   npm run build && node bench/pool-calls.js
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { SandboxPool, Sandbox, compileGuest } = await import(path.join(root, 'dist', 'index.js'));
const guest = await compileGuest(path.join(root, 'guests', 'bin', 'bench-calls.wasm'));
const N = 200_000;
const ops = (process.argv[2] ?? 'clock,write16,read16,stat').split(',');

async function perCall(run) {
  const best = (xs) => Math.min(...xs);
  const full = [];
  const empty = [];
  for (let i = 0; i < 7; i++) {
    full.push(await run(N));
    empty.push(await run(0));
  }
  return ((best(full) - best(empty)) / N) * 1e6; // ns
}

const inThread = await Sandbox.create();
const pool = new SandboxPool({ size: 1 });
const pooled = await pool.create();
console.log('op        in-thread ns/call   pool ns/call');
for (const op of ops) {
  const a = await perCall(async (n) => (await inThread.run(guest, { args: [op, String(n)] })).durationMs);
  const b = await perCall(async (n) => (await pooled.spawn(['bench-calls', op, String(n)], { module: guest, stdin: '', stdout: () => {} }).exited).durationMs);
  console.log(`${op.padEnd(9)} ${a.toFixed(1).padStart(17)} ${b.toFixed(1).padStart(14)}`);
}
await pool.close();
