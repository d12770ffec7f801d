/**
 * Issue 8, item 1: random_get into a buffer above 2 GiB of guest memory,
 * or of 2 GiB or more, threw Node's ERR_OUT_OF_RANGE from the host (the
 * guest trapped), and a 1 GiB random_get was one uninterruptible native
 * call that overran the timeout by seconds.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, GuestError, Sandbox } from '../../src/index.js';
import { GuestDeadline } from '../../src/wasi/index.js';
import { directHost, over2GiBPages } from './direct-host.js';
import { i32, op, sleb, wasiCommand } from './wasm-module.js';

const twoGiB = 2 ** 31;

describe('random_get over 2 GiB', () => {
  it('fills a buffer that starts above 2 GiB', () => {
    const h = directHost({ pages: over2GiBPages });
    const at = twoGiB + 16;
    expect(h.w['random_get']!(at | 0, 64)).toBe(0);
    expect(h.u8().subarray(at, at + 64).some((b) => b !== 0)).toBe(true);
    expect(h.u8().subarray(at - 16, at).every((b) => b === 0)).toBe(true);
    expect(h.u8().subarray(at + 64, at + 80).every((b) => b === 0)).toBe(true);
  });

  it('fills a buffer that straddles 2 GiB', () => {
    const h = directHost({ pages: over2GiBPages });
    const at = twoGiB - 4096;
    expect(h.w['random_get']!(at, 8192)).toBe(0);
    expect(h.u8().subarray(twoGiB + 4096 - 64, twoGiB + 4096).some((b) => b !== 0)).toBe(true);
  });

  it('a buffer of 2 GiB or more is filled in chunks and stops at the deadline, between two chunks', () => {
    // The whole fill would touch 2 GiB of host memory; the deadline stops it
    // after a few chunks, which is what is checked: no ERR_OUT_OF_RANGE, and
    // the call ends within a bounded time of its deadline.
    const h = directHost({ pages: over2GiBPages, deadline: performance.now() + 30 });
    const started = performance.now();
    let thrown: unknown;
    try {
      h.w['random_get']!(65536, twoGiB | 0);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GuestDeadline);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(h.u8().subarray(65536, 65536 + 64).some((b) => b !== 0)).toBe(true);
  });

  it('a 1 GiB random_get respects the deadline', () => {
    const h = directHost({ pages: over2GiBPages, deadline: performance.now() + 20 });
    const started = performance.now();
    expect(() => h.w['random_get']!(0, 2 ** 30)).toThrow(GuestDeadline);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('a buffer running past the end of a >2 GiB memory is EFAULT, and nothing is written', () => {
    const h = directHost({ pages: over2GiBPages });
    const end = over2GiBPages * 65536;
    expect(h.w['random_get']!((end - 8) | 0, 16)).toBe(21);
    expect(h.u8().subarray(end - 8, end).every((b) => b === 0)).toBe(true);
  });
});

describe('random_get under a sandbox timeout', () => {
  it('a 1 GiB random_get stops at --timeout 200, not seconds later', async () => {
    const pages = 16384; // 1 GiB, the default memory limit
    const guest = wasiCommand({
      imports: [{ name: 'random_get', params: [i32, i32] }],
      pages,
      body: [op.i32Const, ...sleb(65536), op.i32Const, ...sleb(2 ** 30 - 65536), op.call, 0, op.drop],
    });
    const sandbox = await Sandbox.create();
    const started = performance.now();
    const error = await sandbox.run(guest, { timeoutMs: 200 }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(GuestError);
    expect((error as GuestError).code).toBe(ErrorCode.timeout);
    // The whole fill takes well over a second here; stopping between chunks ends it near 200 ms.
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
