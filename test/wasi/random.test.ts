/**
 * random_get: fill a guest buffer from the host CSPRNG.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#random_get
 */
import { describe, expect } from 'vitest';
import { badPtr, checkCoverage, memEnd, row, runCases, type Case } from './harness.js';

const cases: Case[] = [
  row({
    fn: 'random_get',
    name: 'fills exactly the 64 bytes asked for, not with zeros',
    setup: (f) => f.alloc(64 + 16) + 8,
    call: (f, buf) => f.w.random_get(buf, 64),
    errno: 'SUCCESS',
    effect: (f, buf) => {
      expect(f.bytes(buf, 64).some((b) => b !== 0)).toBe(true);
      expect([...f.bytes(buf - 8, 8), ...f.bytes(buf + 64, 8)]).toEqual(new Array(16).fill(0));
    },
  }),
  row({
    fn: 'random_get',
    name: 'two calls give different bytes',
    setup: (f) => {
      const a = f.alloc(32);
      f.w.random_get(a, 32);
      return { a, b: f.alloc(32) };
    },
    call: (f, s) => f.w.random_get(s.b, 32),
    errno: 'SUCCESS',
    effect: (f, s) => expect(f.bytes(s.a, 32)).not.toEqual(f.bytes(s.b, 32)),
  }),
  row({
    fn: 'random_get',
    name: 'the whole of memory (more than one getRandomValues call allows)',
    call: (f) => f.w.random_get(0, memEnd),
    errno: 'SUCCESS',
    effect: (f) => expect(f.bytes(memEnd - 64, 64).some((b) => b !== 0)).toBe(true),
  }),
  row({ fn: 'random_get', name: 'zero bytes', call: (f) => f.w.random_get(0x2000, 0), errno: 'SUCCESS' }),
  row({ fn: 'random_get', name: 'zero bytes at the very end of memory', call: (f) => f.w.random_get(memEnd, 0), errno: 'SUCCESS' }),
  row({ fn: 'random_get', name: 'buffer 0xFFFFFFF0', call: (f) => f.w.random_get(badPtr, 8), errno: 'EFAULT' }),
  row({
    fn: 'random_get',
    name: 'buffer running one byte past the end: nothing written',
    call: (f) => f.w.random_get(memEnd - 8, 9),
    errno: 'EFAULT',
    effect: (f) => expect(f.bytes(memEnd - 8, 8).every((b) => b === 0)).toBe(true),
  }),
  row({
    fn: 'random_get',
    name: 'length 0xFFFFFFFF (as i32: -1)',
    call: (f) => f.w.random_get(0, -1),
    errno: 'EFAULT',
    effect: (f) => expect(f.bytes(0, 64).every((b) => b === 0)).toBe(true),
  }),
];

describe('random', () => {
  runCases(cases);
  checkCoverage('random', cases);
});
