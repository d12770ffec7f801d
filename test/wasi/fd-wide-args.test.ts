/**
 * The edges of the fd calls' fast paths: i64 offsets and cookies near and
 * past 2^53 (read as doubles, with no BigInt arithmetic), and dirents
 * written in place (ASCII) or through scratch bytes (any other name, or
 * one cut short at the end of the buffer). Same standard tree as
 * fd.test.ts: `/file.txt` holds "hello world", `/dir` is empty.
 */
import { describe, expect } from 'vitest';
import { Layout, Whence } from '../../src/wasi/abi.js';
import { fileRightsWithout, out, rootFd, row, runCases, type Case, type Fixture } from './harness.js';

const hello = (f: Fixture) => f.open('file.txt', { rights: fileRightsWithout() });
const max = 2n ** 53n - 1n;

const seekCases: Case[] = [
  row({
    fn: 'fd_seek',
    name: 'SET 2^53-1, the largest offset: exact',
    setup: hello,
    call: (f, fd) => f.w.fd_seek(fd, max, Whence.SET, out),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      expect(f.u64(out)).toBe(max);
      expect(f.tell(fd)).toBe(Number(max));
    },
  }),
  row({ fn: 'fd_seek', name: 'SET 2^53: EOVERFLOW', setup: hello, call: (f, fd) => f.w.fd_seek(fd, max + 1n, Whence.SET, out), errno: 'EOVERFLOW', effect: (f, fd) => expect(f.tell(fd)).toBe(0) }),
  row({
    fn: 'fd_seek',
    name: 'CUR +1 at 2^53-1: EOVERFLOW, the position stays',
    setup: (f) => {
      const fd = hello(f);
      f.w.fd_seek(fd, max, Whence.SET, out);
      return fd;
    },
    call: (f, fd) => f.w.fd_seek(fd, 1n, Whence.CUR, out),
    errno: 'EOVERFLOW',
    effect: (f, fd) => expect(f.tell(fd)).toBe(Number(max)),
  }),
  row({ fn: 'fd_seek', name: 'END +2^63-1: EOVERFLOW', setup: hello, call: (f, fd) => f.w.fd_seek(fd, 2n ** 63n - 1n, Whence.END, out), errno: 'EOVERFLOW' }),
  row({ fn: 'fd_seek', name: 'END -2^63: EINVAL', setup: hello, call: (f, fd) => f.w.fd_seek(fd, -(2n ** 63n), Whence.END, out), errno: 'EINVAL' }),
  row({
    fn: 'fd_seek',
    name: 'CUR -(2^53) at 2^53-1: before the start by one, EINVAL',
    setup: (f) => {
      const fd = hello(f);
      f.w.fd_seek(fd, max, Whence.SET, out);
      return fd;
    },
    call: (f, fd) => f.w.fd_seek(fd, -(max + 1n), Whence.CUR, out),
    errno: 'EINVAL',
    effect: (f, fd) => expect(f.tell(fd)).toBe(Number(max)),
  }),
  row({
    fn: 'fd_seek',
    name: 'CUR -(2^53-1) at 2^53-1: back to 0',
    setup: (f) => {
      const fd = hello(f);
      f.w.fd_seek(fd, max, Whence.SET, out);
      return fd;
    },
    call: (f, fd) => f.w.fd_seek(fd, -max, Whence.CUR, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u64(out)).toBe(0n),
  }),
];

const preadCases: Case[] = [
  row({
    fn: 'fd_pread',
    name: 'at 2^53-1: 0 bytes',
    setup: (f) => ({ fd: hello(f), ...f.iovs(4) }),
    call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, max, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
  row({ fn: 'fd_pread', name: 'at 2^53: EINVAL', setup: (f) => ({ fd: hello(f), ...f.iovs(4) }), call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, max + 1n, out), errno: 'EINVAL' }),
  row({ fn: 'fd_pwrite', name: 'at 2^53: EINVAL', setup: (f) => ({ fd: hello(f), iovs: f.ciovs('x') }), call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, max + 1n, out), errno: 'EINVAL', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
];

/** /dir holding `names`, opened, with a buffer of `size` bytes filled with 0xee. */
const dirWith = (f: Fixture, names: readonly string[], size: number) => {
  for (const n of names) f.w.path_create_directory(rootFd, ...f.str(`dir/${n}`));
  const buf = f.alloc(size + 8);
  f.put(buf, new Uint8Array(size + 8).fill(0xee));
  return { fd: f.openDir('dir'), buf };
};

const readdirCases: Case[] = [
  row({
    fn: 'fd_readdir',
    name: 'ASCII and other names side by side: each header and name exact',
    setup: (f) => dirWith(f, ['a', 'é', 'bc', '日本', 'd'], 512),
    call: (f, s) => f.w.fd_readdir(s.fd, s.buf, 512, 2n, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      const names = ['a', 'é', 'bc', '日本', 'd'];
      const bytes = names.map((n) => new TextEncoder().encode(n).length);
      expect(f.u32(out)).toBe(names.length * Layout.direntSize + bytes.reduce((a, b) => a + b, 0));
      const list = f.dirents(s.buf, f.u32(out));
      expect(list.map((d) => d.name)).toEqual(names);
      expect(list.map((d) => d.next)).toEqual([3n, 4n, 5n, 6n, 7n]);
      expect(list.map((d) => d.ino)).toEqual(names.map((n) => f.ino(`dir/${n}`)));
      expect(f.u8[s.buf + f.u32(out)]).toBe(0xee);
    },
  }),
  row({
    fn: 'fd_readdir',
    name: 'a non-ASCII name cut short at the end of the buffer: bufused == bufLen, nothing past it',
    setup: (f) => dirWith(f, ['日本語'], 64),
    // The header (24 B) and 5 of the name's 9 bytes fit.
    call: (f, s) => f.w.fd_readdir(s.fd, s.buf, Layout.direntSize + 5, 2n, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(Layout.direntSize + 5);
      expect(f.u32(s.buf + 16)).toBe(9);
      expect([...f.bytes(s.buf + Layout.direntSize, 5)]).toEqual([...new TextEncoder().encode('日本語').subarray(0, 5)]);
      expect(f.u8[s.buf + Layout.direntSize + 5]).toBe(0xee);
    },
  }),
  row({
    fn: 'fd_readdir',
    name: 'an ASCII name cut short by one byte',
    setup: (f) => dirWith(f, ['abcd'], 64),
    call: (f, s) => f.w.fd_readdir(s.fd, s.buf, Layout.direntSize + 3, 2n, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(Layout.direntSize + 3);
      expect(f.u32(s.buf + 16)).toBe(4);
      expect(new TextDecoder().decode(f.bytes(s.buf + Layout.direntSize, 3))).toBe('abc');
      expect(f.u8[s.buf + Layout.direntSize + 3]).toBe(0xee);
    },
  }),
  row({ fn: 'fd_readdir', name: 'cookie 2^53 lists nothing', setup: (f) => dirWith(f, ['a'], 64), call: (f, s) => f.w.fd_readdir(s.fd, s.buf, 64, max + 1n, out), errno: 'SUCCESS', effect: (f) => expect(f.u32(out)).toBe(0) }),
];

describe('fd calls: wide arguments and dirent encoding', () => {
  runCases([...seekCases, ...preadCases, ...readdirCases]);
});
