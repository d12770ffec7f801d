/**
 * Sockets: sock_accept, sock_recv, sock_send, sock_shutdown.
 * No socket is ever handed to a guest yet: every call checks its fd (EBADF)
 * and then answers ENOTSOCK (no fd is a socket), without touching guest memory.
 */
import { describe, expect } from 'vitest';
import { badFd, badPtr, checkCoverage, out, rootFd, row, runCases, type Case, type Fixture, type WasiName } from './harness.js';

type SockName = Extract<WasiName, `sock_${string}`>;

/** Call a socket function on `fd`, with every pointer argument set to `ptr`. */
const calls: Record<SockName, (f: Fixture, fd: number, ptr: number) => number> = {
  sock_accept: (f, fd, ptr) => f.w.sock_accept(fd, 0, ptr),
  sock_recv: (f, fd, ptr) => f.w.sock_recv(fd, ptr, 1, 0, ptr, ptr),
  sock_send: (f, fd, ptr) => f.w.sock_send(fd, ptr, 1, 0, ptr),
  sock_shutdown: (f, fd) => f.w.sock_shutdown(fd, 3),
};

const cases: Case[] = Object.entries(calls).flatMap(([fn, call]) => [
  row({ fn: fn as SockName, name: 'unknown fd 99', call: (f) => call(f, badFd, out), errno: 'EBADF' }),
  row({
    fn: fn as SockName,
    name: 'a closed fd',
    setup: (f) => {
      const fd = f.open('file.txt');
      f.w.fd_close(fd);
      return fd;
    },
    call: (f, fd) => call(f, fd, out),
    errno: 'EBADF',
  }),
  row({ fn: fn as SockName, name: 'stdout is not a socket', call: (f) => call(f, 1, out), errno: 'ENOTSOCK' }),
  row({ fn: fn as SockName, name: 'the root directory is not a socket', call: (f) => call(f, rootFd, out), errno: 'ENOTSOCK' }),
  row({ fn: fn as SockName, name: 'a file is not a socket', setup: (f) => f.open('file.txt'), call: (f, fd) => call(f, fd, out), errno: 'ENOTSOCK' }),
  row({
    fn: fn as SockName,
    name: 'pointers 0xFFFFFFF0 are never dereferenced',
    call: (f) => call(f, 1, badPtr),
    errno: 'ENOTSOCK',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
]);

describe('sockets', () => {
  runCases(cases);
  checkCoverage('sock', cases);
});
