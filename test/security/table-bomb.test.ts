/**
 * Issue 8, item 5: --memory-limit did not cover wasm tables. With a 64 MiB
 * memory limit, 27 table.grow calls of 10M entries each took the host to
 * 7.7 GB and a fatal OOM. Tables are now bounded like memory: their
 * declared maxima are rewritten so all tables together hold at most
 * `tableLimitElements` (1 Mi by default), and table.grow past it fails
 * inside the guest (-1).
 */
import { describe, expect, it } from 'vitest';
import { StrataError } from '../../src/errors.js';
import { compileGuest, defaultTableLimitElements } from '../../src/sandbox/guest-module.js';
import { Namespace, Tmpfs } from '../../src/vfs/index.js';
import { WasiHost } from '../../src/wasi/index.js';
import { op, sleb, wasiCommand } from './wasm-module.js';

/** `_start`: mem[at] = table.grow(table, null, n), for each (table, n, at). */
function grows(list: readonly (readonly [number, number, number])[]): number[] {
  return list.flatMap(([table, n, at]) => [
    op.i32Const, ...sleb(at),
    op.refNull, op.funcref, op.i32Const, ...sleb(n), ...op.tableGrow, table,
    op.i32Store, 2, 0,
  ]);
}

async function run(bytes: Uint8Array, options: Parameters<typeof compileGuest>[1] = {}): Promise<Int32Array> {
  const guest = await compileGuest(bytes, options);
  const ns = new Namespace(new Tmpfs({ dev: 1n }).root);
  const host = new WasiHost({ namespace: ns, args: ['g'], env: [], preopens: [{ path: '/', dir: ns.root }] });
  const instance = new WebAssembly.Instance(guest.module, host.imports);
  expect(host.start(instance)).toBe(0);
  return new Int32Array((instance.exports['memory'] as WebAssembly.Memory).buffer, 0, 16);
}

async function refused(bytes: Uint8Array, options: Parameters<typeof compileGuest>[1] = {}): Promise<string> {
  const error = await compileGuest(bytes, options).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(StrataError);
  return (error as StrataError).code;
}

describe('a table bomb', () => {
  it(`table.grow past the default cap (${defaultTableLimitElements} elements) fails inside the guest`, async () => {
    const bytes = wasiCommand({ imports: [], tables: [[0, undefined]], body: grows([[0, defaultTableLimitElements + 1, 0], [0, 1000, 4], [0, defaultTableLimitElements, 8]]) });
    const [first, second, third] = await run(bytes);
    expect(first).toBe(-1);
    expect(second).toBe(0); // grew from 0 to 1000
    expect(third).toBe(-1); // 1000 + 1 Mi is past the cap
  });

  it('ten grows of 10M entries, as in the report, all fail at once', async () => {
    const bytes = wasiCommand({ imports: [], tables: [[1, undefined]], body: grows(Array.from({ length: 10 }, (_, i) => [0, 10_000_000, i * 4] as const)) });
    const before = process.memoryUsage().rss;
    expect([...(await run(bytes, { tableLimitElements: 64 }))].slice(0, 10)).toEqual(new Array(10).fill(-1));
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
  });

  it('a declared maximum under the cap is kept', async () => {
    const bytes = wasiCommand({ imports: [], tables: [[0, 10]], body: grows([[0, 11, 0], [0, 10, 4]]) });
    expect([...(await run(bytes))].slice(0, 2)).toEqual([-1, 0]);
  });

  it('several tables share the cap, the first ones first', async () => {
    const bytes = wasiCommand({ imports: [], tables: [[2, undefined], [3, 100], [0, undefined]], body: grows([[0, 95, 0], [1, 1, 4], [2, 1, 8], [0, 1, 12]]) });
    // Cap 100: minima 5, spare 95, all to table 0 (max 97); tables 1 and 2 keep their minima.
    expect([...(await run(bytes, { tableLimitElements: 100 }))].slice(0, 4)).toEqual([2, -1, -1, -1]);
  });

  it('a module whose tables need more than the cap at start is refused', async () => {
    expect(await refused(wasiCommand({ imports: [], tables: [[defaultTableLimitElements + 1, undefined]], body: [] }))).toBe('ERR_INVALID_WASM');
    expect(await refused(wasiCommand({ imports: [], tables: [[60, undefined], [50, undefined]], body: [] }), { tableLimitElements: 100 })).toBe('ERR_INVALID_WASM');
  });

  it('a bad tableLimitElements is ERR_INVALID_OPTION', async () => {
    const bytes = wasiCommand({ imports: [], body: [] });
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 32]) expect(await refused(bytes, { tableLimitElements: bad })).toBe('ERR_INVALID_OPTION');
  });
});
