/**
 * Clocks: clock_res_get, clock_time_get.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#clock_time_get
 */
import { describe, expect } from 'vitest';
import { ClockId } from '../../src/wasi/abi.js';
import { badPtr, checkCoverage, out, out2, row, runCases, tail, type Case } from './harness.js';

const clocks = Object.entries(ClockId);

const resCases: Case[] = [
  ...clocks.map(([name, id]) =>
    row({
      fn: 'clock_res_get',
      name: `${name} has a positive resolution of at most 1 ms`,
      call: (f) => f.w.clock_res_get(id, out),
      errno: 'SUCCESS',
      effect: (f) => {
        expect(f.u64(out)).toBeGreaterThan(0n);
        expect(f.u64(out)).toBeLessThanOrEqual(1_000_000n);
      },
    }),
  ),
  row({ fn: 'clock_res_get', name: 'unknown clock 4', call: (f) => f.w.clock_res_get(4, out), errno: 'EINVAL' }),
  row({ fn: 'clock_res_get', name: 'unknown clock 0xFFFFFFFF (as i32: -1)', call: (f) => f.w.clock_res_get(-1, out), errno: 'EINVAL' }),
  row({ fn: 'clock_res_get', name: 'result pointer 0xFFFFFFF0', call: (f) => f.w.clock_res_get(ClockId.MONOTONIC, badPtr), errno: 'EFAULT' }),
  row({ fn: 'clock_res_get', name: 'a u64 two bytes before the end of memory', call: (f) => f.w.clock_res_get(ClockId.REALTIME, tail), errno: 'EFAULT' }),
];

const timeCases: Case[] = [
  row({
    fn: 'clock_time_get',
    name: 'MONOTONIC never goes backwards',
    setup: (f) => {
      const readings: bigint[] = [];
      for (let i = 0; i < 100; i++) {
        f.w.clock_time_get(ClockId.MONOTONIC, 0n, out2);
        readings.push(f.u64(out2));
      }
      return readings;
    },
    call: (f) => f.w.clock_time_get(ClockId.MONOTONIC, 1n, out),
    errno: 'SUCCESS',
    effect: (f, readings) => {
      const all = [...readings, f.u64(out)];
      for (let i = 1; i < all.length; i++) expect(all[i]!).toBeGreaterThanOrEqual(all[i - 1]!);
    },
  }),
  row({
    fn: 'clock_time_get',
    name: 'REALTIME is within 1 s of Date.now(), in ns since the epoch',
    call: (f) => f.w.clock_time_get(ClockId.REALTIME, 0n, out),
    errno: 'SUCCESS',
    effect: (f) => {
      const ms = Number(f.u64(out) / 1_000_000n);
      expect(Math.abs(ms - Date.now())).toBeLessThan(1000);
    },
  }),
  row({
    fn: 'clock_time_get',
    name: 'PROCESS_CPUTIME_ID counts CPU time used (positive)',
    call: (f) => f.w.clock_time_get(ClockId.PROCESS_CPUTIME_ID, 0n, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u64(out)).toBeGreaterThan(0n),
  }),
  row({
    fn: 'clock_time_get',
    name: 'THREAD_CPUTIME_ID counts CPU time used (positive)',
    call: (f) => f.w.clock_time_get(ClockId.THREAD_CPUTIME_ID, 0n, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u64(out)).toBeGreaterThan(0n),
  }),
  row({
    fn: 'clock_time_get',
    name: 'any precision is accepted (2^64-1 arrives as -1n)',
    call: (f) => f.w.clock_time_get(ClockId.MONOTONIC, -1n, out),
    errno: 'SUCCESS',
  }),
  row({ fn: 'clock_time_get', name: 'unknown clock 4', call: (f) => f.w.clock_time_get(4, 0n, out), errno: 'EINVAL' }),
  row({ fn: 'clock_time_get', name: 'unknown clock -1', call: (f) => f.w.clock_time_get(-1, 0n, out), errno: 'EINVAL' }),
  ...clocks.map(([name, id]) =>
    row({ fn: 'clock_time_get', name: `${name} into pointer 0xFFFFFFF0`, call: (f) => f.w.clock_time_get(id, 0n, badPtr), errno: 'EFAULT' }),
  ),
  ...clocks.map(([name, id]) =>
    row({
      fn: 'clock_time_get',
      name: `${name} into a u64 two bytes before the end of memory`,
      call: (f) => f.w.clock_time_get(id, 0n, tail),
      errno: 'EFAULT',
      effect: (f) => expect(f.u16(tail)).toBe(0),
    }),
  ),
];

const cases = [...resCases, ...timeCases];

describe('clocks', () => {
  runCases(cases);
  checkCoverage('clock', cases);
});
