/**
 * argv and environ: args_get, args_sizes_get, environ_get, environ_sizes_get.
 * Layout by preview1: `*_sizes_get` writes (count, total bytes of the
 * NUL-terminated strings); `*_get` writes `count` u32 pointers into the
 * pointer array, each to its string, laid back to back in the buffer.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#args_get
 */
import { describe, expect } from 'vitest';
import { badPtr, checkCoverage, memEnd, out, out2, row, runCases, tail, type Case, type Fixture } from './harness.js';

/** Expect `count` pointers at `ptrs` pointing back to back into `buf`, which holds exactly `strings`. */
function expectLayout(f: Fixture, ptrs: number, buf: number, strings: readonly string[]): void {
  let at = buf;
  const bytes: number[] = [];
  strings.forEach((s, i) => {
    expect(f.u32(ptrs + i * 4)).toBe(at);
    const encoded = new TextEncoder().encode(s + '\0');
    bytes.push(...encoded);
    at += encoded.length;
  });
  expect([...f.bytes(buf, bytes.length + 4)]).toEqual([...bytes, 0, 0, 0, 0]);
}

const argsCases: Case[] = [
  row({
    fn: 'args_sizes_get',
    name: "['prog', 'a']: 2 strings, 7 bytes ('prog\\0a\\0')",
    call: (f) => f.w.args_sizes_get(out, out2),
    errno: 'SUCCESS',
    effect: (f) => expect([f.u32(out), f.u32(out2)]).toEqual([2, 7]),
  }),
  row({
    fn: 'args_sizes_get',
    name: 'sizes count UTF-8 bytes, and an empty argument still has its NUL',
    options: { args: ['é', ''] },
    call: (f) => f.w.args_sizes_get(out, out2),
    errno: 'SUCCESS',
    effect: (f) => expect([f.u32(out), f.u32(out2)]).toEqual([2, 4]),
  }),
  row({
    fn: 'args_sizes_get',
    name: 'no arguments at all',
    options: { args: [] },
    call: (f) => f.w.args_sizes_get(out, out2),
    errno: 'SUCCESS',
    effect: (f) => expect([f.u32(out), f.u32(out2)]).toEqual([0, 0]),
  }),
  row({ fn: 'args_sizes_get', name: 'count pointer 0xFFFFFFF0', call: (f) => f.w.args_sizes_get(badPtr, out2), errno: 'EFAULT' }),
  row({
    fn: 'args_sizes_get',
    name: 'size pointer overruns memory: nothing is written, not even the count',
    call: (f) => f.w.args_sizes_get(out, tail),
    errno: 'EFAULT',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
  row({
    fn: 'args_get',
    name: "['prog', 'a'] laid out back to back, NUL-terminated",
    setup: (f) => ({ ptrs: f.alloc(8), buf: f.alloc(16) }),
    call: (f, s) => f.w.args_get(s.ptrs, s.buf),
    errno: 'SUCCESS',
    effect: (f, s) => expectLayout(f, s.ptrs, s.buf, ['prog', 'a']),
  }),
  row({
    fn: 'args_get',
    name: 'UTF-8 arguments keep their bytes',
    options: { args: ['ünï', 'x y', ''] },
    setup: (f) => ({ ptrs: f.alloc(12), buf: f.alloc(32) }),
    call: (f, s) => f.w.args_get(s.ptrs, s.buf),
    errno: 'SUCCESS',
    effect: (f, s) => expectLayout(f, s.ptrs, s.buf, ['ünï', 'x y', '']),
  }),
  row({
    fn: 'args_get',
    name: 'the buffer fits exactly at the end of memory',
    setup: (f) => ({ ptrs: f.alloc(8) }),
    call: (f, s) => f.w.args_get(s.ptrs, memEnd - 7),
    errno: 'SUCCESS',
    effect: (f) => expect(f.text(memEnd - 7, 7)).toBe('prog\0a\0'),
  }),
  row({ fn: 'args_get', name: 'pointer array 0xFFFFFFF0', setup: (f) => f.alloc(16), call: (f, buf) => f.w.args_get(badPtr, buf), errno: 'EFAULT' }),
  row({
    fn: 'args_get',
    name: 'pointer array one slot short of the end of memory: nothing written',
    setup: (f) => f.alloc(16),
    call: (f, buf) => f.w.args_get(memEnd - 4, buf),
    errno: 'EFAULT',
    effect: (f, buf) => expect(f.bytes(buf, 7).every((b) => b === 0)).toBe(true),
  }),
  row({ fn: 'args_get', name: 'buffer 0xFFFFFFF0', setup: (f) => f.alloc(8), call: (f, ptrs) => f.w.args_get(ptrs, badPtr), errno: 'EFAULT' }),
  row({
    fn: 'args_get',
    name: 'buffer one byte short of the end of memory: nothing written',
    setup: (f) => f.alloc(8),
    call: (f, ptrs) => f.w.args_get(ptrs, memEnd - 6),
    errno: 'EFAULT',
    effect: (f, ptrs) => {
      expect(f.u32(ptrs)).toBe(0);
      expect(f.bytes(memEnd - 6, 6).every((b) => b === 0)).toBe(true);
    },
  }),
];

const environCases: Case[] = [
  row({
    fn: 'environ_sizes_get',
    name: "['K=V']: 1 string, 4 bytes",
    call: (f) => f.w.environ_sizes_get(out, out2),
    errno: 'SUCCESS',
    effect: (f) => expect([f.u32(out), f.u32(out2)]).toEqual([1, 4]),
  }),
  row({
    fn: 'environ_sizes_get',
    name: 'an empty environment',
    options: { env: [] },
    call: (f) => f.w.environ_sizes_get(out, out2),
    errno: 'SUCCESS',
    effect: (f) => expect([f.u32(out), f.u32(out2)]).toEqual([0, 0]),
  }),
  row({ fn: 'environ_sizes_get', name: 'count pointer 0xFFFFFFF0', call: (f) => f.w.environ_sizes_get(badPtr, out2), errno: 'EFAULT' }),
  row({ fn: 'environ_sizes_get', name: 'size pointer overruns memory', call: (f) => f.w.environ_sizes_get(out, tail), errno: 'EFAULT' }),
  row({
    fn: 'environ_get',
    name: "['K=V'] as one NUL-terminated string",
    setup: (f) => ({ ptrs: f.alloc(4), buf: f.alloc(8) }),
    call: (f, s) => f.w.environ_get(s.ptrs, s.buf),
    errno: 'SUCCESS',
    effect: (f, s) => expectLayout(f, s.ptrs, s.buf, ['K=V']),
  }),
  row({
    fn: 'environ_get',
    name: 'several variables, values with = and UTF-8',
    options: { env: ['A=1', 'B=x=y', 'C=ß'] },
    setup: (f) => ({ ptrs: f.alloc(12), buf: f.alloc(32) }),
    call: (f, s) => f.w.environ_get(s.ptrs, s.buf),
    errno: 'SUCCESS',
    effect: (f, s) => expectLayout(f, s.ptrs, s.buf, ['A=1', 'B=x=y', 'C=ß']),
  }),
  row({ fn: 'environ_get', name: 'pointer array 0xFFFFFFF0', setup: (f) => f.alloc(8), call: (f, buf) => f.w.environ_get(badPtr, buf), errno: 'EFAULT' }),
  row({ fn: 'environ_get', name: 'buffer 0xFFFFFFF0', setup: (f) => f.alloc(4), call: (f, ptrs) => f.w.environ_get(ptrs, badPtr), errno: 'EFAULT' }),
  row({
    fn: 'environ_get',
    name: 'buffer one byte short of the end of memory',
    setup: (f) => f.alloc(4),
    call: (f, ptrs) => f.w.environ_get(ptrs, memEnd - 3),
    errno: 'EFAULT',
  }),
];

const cases = [...argsCases, ...environCases];

describe('args and environ', () => {
  runCases(cases);
  checkCoverage('args', cases);
});
