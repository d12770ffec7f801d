/**
 * Issue 8, principles: every guest-controlled count is bounded. An iovec
 * array may hold at most IOV_MAX (1024) entries, as readv(2) and writev(2)
 * say on Linux; past it each read and write call is EINVAL and touches
 * nothing, after the EFAULT check of the array itself.
 */
import { describe, expect, it } from 'vitest';
import { maxIovecs } from '../../src/wasi/fd.js';
import { WasiErrno } from '../../src/wasi/index.js';
import { directHost } from './direct-host.js';

function setup() {
  const h = directHost({ pages: 2 });
  h.ns.open(h.ns.root, 'f', { follow: false, create: true });
  expect(h.w['path_open']!(3, 0, ...h.put(0, 'f'), 0, 0x7ffffffn, 0n, 0, 16)).toBe(0);
  const fd = h.dv().getUint32(16, true);
  // iovecs at 4096: each one byte of the data at 64.
  for (let i = 0; i < maxIovecs + 1; i++) {
    h.dv().setUint32(4096 + i * 8, 64, true);
    h.dv().setUint32(4096 + i * 8 + 4, 1, true);
  }
  return { h, fd };
}

const calls: [string, (w: ReturnType<typeof directHost>['w'], fd: number, n: number) => number][] = [
  ['fd_write', (w, fd, n) => w['fd_write']!(fd, 4096, n, 32)],
  ['fd_pwrite', (w, fd, n) => w['fd_pwrite']!(fd, 4096, n, 0n, 32)],
  ['fd_read', (w, fd, n) => w['fd_read']!(fd, 4096, n, 32)],
  ['fd_pread', (w, fd, n) => w['fd_pread']!(fd, 4096, n, 0n, 32)],
];

describe('iovec counts', () => {
  it.each(calls)(`%s: ${maxIovecs + 1} iovecs is EINVAL and changes nothing; ${maxIovecs} are served`, (name, call) => {
    const { h, fd } = setup();
    h.dv().setUint32(32, 0xdead, true);
    expect(call(h.w, fd, maxIovecs + 1)).toBe(WasiErrno.EINVAL);
    expect(h.dv().getUint32(32, true)).toBe(0xdead);
    expect(h.fs.usage.bytes).toBe(0);
    expect(call(h.w, fd, maxIovecs)).toBe(0);
    expect(h.dv().getUint32(32, true)).toBe(name.includes('write') ? maxIovecs : 0);
  });

  it('an array that does not fit in memory stays EFAULT', () => {
    const { h, fd } = setup();
    expect(h.w['fd_write']!(fd, 4096, 0x10000000, 32)).toBe(WasiErrno.EFAULT);
  });
});
