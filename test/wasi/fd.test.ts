/**
 * File-descriptor calls: the 21 fd_* functions of preview1.
 * Each row starts from the standard tree (harness.ts): `/file.txt` holds
 * "hello world", `/dir` is empty, `/full` holds `a.txt`. fds 0-2 are stdio
 * streams and fd 3 the preopened root.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md
 */
import { describe, expect } from 'vitest';
import { directoryInheritingRights, FdFlags, Filetype, FstFlags, Layout, maxAdvice, Rights as R, streamRights, Whence } from '../../src/wasi/abi.js';
import {
  badFd,
  badPtr,
  checkCoverage,
  directoryRights,
  fileRights,
  fileRightsWithout,
  errnoName,
  memEnd,
  OFlags,
  out,
  out2,
  rootFd,
  row,
  runCases,
  tail,
  wrappingIovCount,
  type Case,
  type Fixture,
} from './harness.js';

/** Open /file.txt ("hello world") with every file right, or all but `minus`. */
const hello = (f: Fixture, ...minus: number[]) => f.open('file.txt', { rights: fileRightsWithout(...minus) });
/** An fd that was open and is now closed. */
const closed = (f: Fixture) => {
  const fd = hello(f);
  f.w.fd_close(fd);
  return fd;
};
/** An empty file in a tmpfs limited to 100 bytes. */
const tiny = { empty: true, limits: { maxBytes: 100 } } as const;
const newFile = (f: Fixture) => f.open('new', { oflags: OFlags.CREAT });
const two32 = 2n ** 32n;

const adviseCases: Case[] = [
  ...Array.from({ length: maxAdvice + 1 }, (_, advice) =>
    row({ fn: 'fd_advise', name: `advice ${advice} on a file`, setup: hello, call: (f, fd) => f.w.fd_advise(fd, 0n, 11n, advice), errno: 'SUCCESS' }),
  ),
  row({ fn: 'fd_advise', name: 'advice on a directory', call: (f) => f.w.fd_advise(rootFd, 0n, 0n, 0), errno: 'SUCCESS' }),
  row({ fn: 'fd_advise', name: 'advice 6 does not exist', setup: hello, call: (f, fd) => f.w.fd_advise(fd, 0n, 11n, 6), errno: 'EINVAL' }),
  row({ fn: 'fd_advise', name: 'length 2^64-1 (as i64: -1)', setup: hello, call: (f, fd) => f.w.fd_advise(fd, 0n, -1n, 0), errno: 'EINVAL' }),
  row({ fn: 'fd_advise', name: 'file opened without FD_ADVISE', setup: (f) => hello(f, R.FD_ADVISE), call: (f, fd) => f.w.fd_advise(fd, 0n, 1n, 0), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_advise', name: 'stdout holds no FD_ADVISE', call: (f) => f.w.fd_advise(1, 0n, 1n, 0), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_advise', name: 'unknown fd 99', call: (f) => f.w.fd_advise(badFd, 0n, 1n, 0), errno: 'EBADF' }),
  row({ fn: 'fd_advise', name: 'a closed fd', setup: closed, call: (f, fd) => f.w.fd_advise(fd, 0n, 1n, 0), errno: 'EBADF' }),
];

const allocateCases: Case[] = [
  row({
    fn: 'fd_allocate',
    name: 'grows the file with zeros, keeping its contents and the position',
    setup: hello,
    call: (f, fd) => f.w.fd_allocate(fd, 10n, 10n),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      expect(f.contents('file.txt')).toBe('hello world' + '\0'.repeat(9));
      expect(f.tell(fd)).toBe(0);
    },
  }),
  row({
    fn: 'fd_allocate',
    name: 'never shrinks',
    setup: hello,
    call: (f, fd) => f.w.fd_allocate(fd, 0n, 5n),
    errno: 'SUCCESS',
    effect: (f) => expect(f.contents('file.txt')).toBe('hello world'),
  }),
  row({ fn: 'fd_allocate', name: 'offset 2^64-1 (as i64: -1)', setup: hello, call: (f, fd) => f.w.fd_allocate(fd, -1n, 1n), errno: 'EINVAL' }),
  row({ fn: 'fd_allocate', name: 'length 2^64-1 (as i64: -1)', setup: hello, call: (f, fd) => f.w.fd_allocate(fd, 0n, -1n), errno: 'EINVAL' }),
  row({ fn: 'fd_allocate', name: 'past the largest file (2^32 - 1 bytes)', setup: hello, call: (f, fd) => f.w.fd_allocate(fd, two32, 1n), errno: 'EFBIG' }),
  row({ fn: 'fd_allocate', name: 'past 2^53', setup: hello, call: (f, fd) => f.w.fd_allocate(fd, 2n ** 53n, 1n), errno: 'EFBIG' }),
  row({
    fn: 'fd_allocate',
    name: '200 bytes in a 100-byte tmpfs: nothing changes',
    options: tiny,
    setup: newFile,
    call: (f, fd) => f.w.fd_allocate(fd, 0n, 200n),
    errno: 'ENOSPC',
    effect: (f) => expect(f.fs.usage.bytes).toBe(0),
  }),
  row({ fn: 'fd_allocate', name: 'on a directory', call: (f) => f.w.fd_allocate(rootFd, 0n, 1n), errno: 'EISDIR' }),
  row({ fn: 'fd_allocate', name: 'on stdout', call: (f) => f.w.fd_allocate(1, 0n, 1n), errno: 'ESPIPE' }),
  row({ fn: 'fd_allocate', name: 'file opened without FD_ALLOCATE', setup: (f) => hello(f, R.FD_ALLOCATE), call: (f, fd) => f.w.fd_allocate(fd, 0n, 20n), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_allocate', name: 'unknown fd 99', call: (f) => f.w.fd_allocate(badFd, 0n, 1n), errno: 'EBADF' }),
];

const closeCases: Case[] = [
  row({
    fn: 'fd_close',
    name: 'a file: the fd is gone, and the lowest free number is reused',
    setup: (f) => [hello(f), hello(f)] as const,
    call: (f, [a]) => f.w.fd_close(a),
    errno: 'SUCCESS',
    effect: (f, [a, b]) => {
      expect(errnoName(f.w.fd_fdstat_get(a, out))).toBe('EBADF');
      expect(f.read(b)).toBe('hello world');
      expect(hello(f)).toBe(a);
    },
  }),
  row({
    fn: 'fd_close',
    name: 'stdout: later writes say EBADF',
    call: (f) => f.w.fd_close(1),
    errno: 'SUCCESS',
    effect: (f) => expect(errnoName(f.w.fd_write(1, ...f.ciovs('x'), out))).toBe('EBADF'),
  }),
  row({
    fn: 'fd_close',
    name: 'the preopened root',
    call: (f) => f.w.fd_close(rootFd),
    errno: 'SUCCESS',
    effect: (f) => expect(errnoName(f.w.fd_prestat_get(rootFd, out))).toBe('EBADF'),
  }),
  row({ fn: 'fd_close', name: 'unknown fd 99', call: (f) => f.w.fd_close(badFd), errno: 'EBADF' }),
  row({ fn: 'fd_close', name: 'twice', setup: closed, call: (f, fd) => f.w.fd_close(fd), errno: 'EBADF' }),
  row({ fn: 'fd_close', name: 'a negative fd', call: (f) => f.w.fd_close(-1), errno: 'EBADF' }),
];

const syncCases: Case[] = (['fd_datasync', 'fd_sync'] as const).flatMap((fn) => {
  const right = fn === 'fd_sync' ? R.FD_SYNC : R.FD_DATASYNC;
  return [
    row({ fn, name: 'a file', setup: hello, call: (f, fd) => f.w[fn](fd), errno: 'SUCCESS' }),
    row({ fn, name: 'stdout', call: (f) => f.w[fn](1), errno: 'SUCCESS' }),
    row({ fn, name: 'file opened without the right', setup: (f) => hello(f, right), call: (f, fd) => f.w[fn](fd), errno: 'ENOTCAPABLE' }),
    row({ fn, name: 'unknown fd 99', call: (f) => f.w[fn](badFd), errno: 'EBADF' }),
    row({ fn, name: 'a closed fd', setup: closed, call: (f, fd) => f.w[fn](fd), errno: 'EBADF' }),
  ];
});

const fdstatGetCases: Case[] = [
  row({
    fn: 'fd_fdstat_get',
    name: 'a file: REGULAR_FILE, its flags and the rights it was opened with',
    setup: (f) => f.open('file.txt', { rights: R.FD_READ | R.FD_SEEK, fdflags: FdFlags.APPEND }),
    call: (f, fd) => f.w.fd_fdstat_get(fd, out),
    errno: 'SUCCESS',
    effect: (f) =>
      expect(f.fdstat(out)).toEqual({ type: Filetype.REGULAR_FILE, flags: FdFlags.APPEND, base: BigInt(R.FD_READ | R.FD_SEEK), inheriting: 0n }),
  }),
  row({
    fn: 'fd_fdstat_get',
    name: 'the preopened root: DIRECTORY with every directory right to hold and to pass on',
    call: (f) => f.w.fd_fdstat_get(rootFd, out),
    errno: 'SUCCESS',
    effect: (f) =>
      expect(f.fdstat(out)).toEqual({ type: Filetype.DIRECTORY, flags: 0, base: BigInt(directoryRights), inheriting: BigInt(directoryInheritingRights) }),
  }),
  row({
    fn: 'fd_fdstat_get',
    name: 'stdout, a terminal: CHARACTER_DEVICE, writable, not readable',
    options: { tty: { stdout: true } },
    call: (f) => f.w.fd_fdstat_get(1, out),
    errno: 'SUCCESS',
    effect: (f) => {
      const st = f.fdstat(out);
      expect(st.type).toBe(Filetype.CHARACTER_DEVICE);
      expect(st.base).toBe(BigInt(streamRights & ~R.FD_READ));
    },
  }),
  row({
    fn: 'fd_fdstat_get',
    name: 'stdin: readable, not writable',
    call: (f) => f.w.fd_fdstat_get(0, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.fdstat(out).base).toBe(BigInt(streamRights & ~R.FD_WRITE)),
  }),
  row({
    fn: 'fd_fdstat_get',
    name: 'stdout, not a terminal: UNKNOWN (as wasmtime), the same rights',
    call: (f) => f.w.fd_fdstat_get(1, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.fdstat(out)).toMatchObject({ type: Filetype.UNKNOWN, base: BigInt(streamRights & ~R.FD_READ) }),
  }),
  row({ fn: 'fd_fdstat_get', name: 'unknown fd 99', call: (f) => f.w.fd_fdstat_get(badFd, out), errno: 'EBADF' }),
  row({ fn: 'fd_fdstat_get', name: 'a closed fd', setup: closed, call: (f, fd) => f.w.fd_fdstat_get(fd, out), errno: 'EBADF' }),
  row({ fn: 'fd_fdstat_get', name: 'result at 0xFFFFFFF0', call: (f) => f.w.fd_fdstat_get(1, badPtr), errno: 'EFAULT' }),
  row({
    fn: 'fd_fdstat_get',
    name: 'a 24-byte result 20 bytes before the end of memory: nothing written',
    call: (f) => f.w.fd_fdstat_get(1, memEnd - 20),
    errno: 'EFAULT',
    effect: (f) => expect(f.bytes(memEnd - 20, 20).every((b) => b === 0)).toBe(true),
  }),
];

const setFlagsCases: Case[] = [
  row({
    fn: 'fd_fdstat_set_flags',
    name: 'APPEND: later writes go to the end',
    setup: hello,
    call: (f, fd) => f.w.fd_fdstat_set_flags(fd, FdFlags.APPEND),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      expect(f.fdstatOf(fd).flags).toBe(FdFlags.APPEND);
      f.write(fd, '!');
      expect(f.contents('file.txt')).toBe('hello world!');
    },
  }),
  row({
    fn: 'fd_fdstat_set_flags',
    name: 'clearing APPEND: writes go to the position again',
    setup: (f) => f.open('file.txt', { fdflags: FdFlags.APPEND }),
    call: (f, fd) => f.w.fd_fdstat_set_flags(fd, 0),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      f.write(fd, 'J');
      expect(f.contents('file.txt')).toBe('Jello world');
    },
  }),
  row({ fn: 'fd_fdstat_set_flags', name: 'NONBLOCK on stdout', call: (f) => f.w.fd_fdstat_set_flags(1, FdFlags.NONBLOCK), errno: 'SUCCESS' }),
  row({ fn: 'fd_fdstat_set_flags', name: 'unknown flag 32', setup: hello, call: (f, fd) => f.w.fd_fdstat_set_flags(fd, 32), errno: 'EINVAL' }),
  row({
    fn: 'fd_fdstat_set_flags',
    name: 'file opened without FD_FDSTAT_SET_FLAGS',
    setup: (f) => hello(f, R.FD_FDSTAT_SET_FLAGS),
    call: (f, fd) => f.w.fd_fdstat_set_flags(fd, FdFlags.APPEND),
    errno: 'ENOTCAPABLE',
    effect: (f, fd) => expect(f.fdstatOf(fd).flags).toBe(0),
  }),
  row({ fn: 'fd_fdstat_set_flags', name: 'unknown fd 99', call: (f) => f.w.fd_fdstat_set_flags(badFd, 0), errno: 'EBADF' }),
];

const setRightsCases: Case[] = [
  row({
    fn: 'fd_fdstat_set_rights',
    name: 'dropping FD_WRITE: fdstat shows it, and writes say ENOTCAPABLE',
    setup: hello,
    call: (f, fd) => f.w.fd_fdstat_set_rights(fd, BigInt(fileRightsWithout(R.FD_WRITE)), 0n),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      expect(f.fdstatOf(fd).base).toBe(BigInt(fileRightsWithout(R.FD_WRITE)));
      expect(errnoName(f.w.fd_write(fd, ...f.ciovs('x'), out))).toBe('ENOTCAPABLE');
      expect(f.read(fd)).toBe('hello world');
    },
  }),
  row({
    fn: 'fd_fdstat_set_rights',
    name: 'keeping the same rights',
    call: (f) => f.w.fd_fdstat_set_rights(rootFd, BigInt(directoryRights), BigInt(directoryInheritingRights)),
    errno: 'SUCCESS',
  }),
  row({
    fn: 'fd_fdstat_set_rights',
    name: 'dropping PATH_OPEN from the root: opening through it says ENOTCAPABLE',
    call: (f) => f.w.fd_fdstat_set_rights(rootFd, BigInt(directoryRights & ~R.PATH_OPEN), BigInt(directoryInheritingRights)),
    errno: 'SUCCESS',
    effect: (f) => expect(errnoName(f.openAt('file.txt'))).toBe('ENOTCAPABLE'),
  }),
  row({
    fn: 'fd_fdstat_set_rights',
    name: 'adding back a dropped right',
    setup: (f) => {
      const fd = hello(f);
      f.dropRights(fd, R.FD_WRITE);
      return fd;
    },
    call: (f, fd) => f.w.fd_fdstat_set_rights(fd, BigInt(fileRights), 0n),
    errno: 'ENOTCAPABLE',
    effect: (f, fd) => expect(f.fdstatOf(fd).base).toBe(BigInt(fileRightsWithout(R.FD_WRITE))),
  }),
  row({
    fn: 'fd_fdstat_set_rights',
    name: 'adding an inheriting right to a file fd that has none',
    setup: hello,
    call: (f, fd) => f.w.fd_fdstat_set_rights(fd, BigInt(fileRights), BigInt(R.FD_READ)),
    errno: 'ENOTCAPABLE',
  }),
  row({
    fn: 'fd_fdstat_set_rights',
    name: 'giving stdout FD_READ',
    call: (f) => f.w.fd_fdstat_set_rights(1, BigInt(streamRights), 0n),
    errno: 'ENOTCAPABLE',
  }),
  row({ fn: 'fd_fdstat_set_rights', name: 'unknown fd 99', call: (f) => f.w.fd_fdstat_set_rights(badFd, 0n, 0n), errno: 'EBADF' }),
];

const filestatGetCases: Case[] = [
  row({
    fn: 'fd_filestat_get',
    name: 'a file: dev, inode, type, links, size and times',
    setup: hello,
    call: (f, fd) => f.w.fd_filestat_get(fd, out),
    errno: 'SUCCESS',
    effect: (f) => {
      const st = f.filestat(out);
      expect(st).toMatchObject({ dev: 1n, ino: f.ino('file.txt'), type: Filetype.REGULAR_FILE, nlink: 1n, size: 11n });
      expect(st.mtim).toBeGreaterThan(0n);
      expect(st.atim).toBeGreaterThan(0n);
      expect(st.ctim).toBeGreaterThan(0n);
    },
  }),
  row({
    fn: 'fd_filestat_get',
    name: 'the root directory',
    call: (f) => f.w.fd_filestat_get(rootFd, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.filestat(out)).toMatchObject({ ino: f.ns.root.ino, type: Filetype.DIRECTORY }),
  }),
  row({
    fn: 'fd_filestat_get',
    name: 'stdout, a terminal, is a character device',
    options: { tty: { stdout: true } },
    call: (f) => f.w.fd_filestat_get(1, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.filestat(out).type).toBe(Filetype.CHARACTER_DEVICE),
  }),
  row({
    fn: 'fd_filestat_get',
    name: 'stdout, not a terminal, is of unknown type',
    call: (f) => f.w.fd_filestat_get(1, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.filestat(out)).toMatchObject({ type: Filetype.UNKNOWN, nlink: 1n }),
  }),
  row({
    fn: 'fd_filestat_get',
    name: 'file opened without FD_FILESTAT_GET',
    setup: (f) => hello(f, R.FD_FILESTAT_GET),
    call: (f, fd) => f.w.fd_filestat_get(fd, out),
    errno: 'ENOTCAPABLE',
  }),
  row({ fn: 'fd_filestat_get', name: 'unknown fd 99', call: (f) => f.w.fd_filestat_get(badFd, out), errno: 'EBADF' }),
  row({ fn: 'fd_filestat_get', name: 'result at 0xFFFFFFF0', setup: hello, call: (f, fd) => f.w.fd_filestat_get(fd, badPtr), errno: 'EFAULT' }),
  row({
    fn: 'fd_filestat_get',
    name: 'a 64-byte result 32 bytes before the end of memory: nothing written',
    setup: hello,
    call: (f, fd) => f.w.fd_filestat_get(fd, memEnd - 32),
    errno: 'EFAULT',
    effect: (f) => expect(f.bytes(memEnd - 32, 32).every((b) => b === 0)).toBe(true),
  }),
];

const setSizeCases: Case[] = [
  row({
    fn: 'fd_filestat_set_size',
    name: 'shrinks; the position stays',
    setup: (f) => {
      const fd = hello(f);
      f.read(fd, 8);
      return fd;
    },
    call: (f, fd) => f.w.fd_filestat_set_size(fd, 5n),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      expect(f.contents('file.txt')).toBe('hello');
      expect(f.tell(fd)).toBe(8);
    },
  }),
  row({
    fn: 'fd_filestat_set_size',
    name: 'grows with zeros',
    setup: hello,
    call: (f, fd) => f.w.fd_filestat_set_size(fd, 13n),
    errno: 'SUCCESS',
    effect: (f) => expect(f.contents('file.txt')).toBe('hello world\0\0'),
  }),
  row({
    fn: 'fd_filestat_set_size',
    name: 'shrink then grow: the cut bytes come back as zeros',
    setup: (f) => {
      const fd = hello(f);
      f.w.fd_filestat_set_size(fd, 2n);
      return fd;
    },
    call: (f, fd) => f.w.fd_filestat_set_size(fd, 5n),
    errno: 'SUCCESS',
    effect: (f) => expect(f.contents('file.txt')).toBe('he\0\0\0'),
  }),
  row({ fn: 'fd_filestat_set_size', name: 'size 2^64-1 (as i64: -1)', setup: hello, call: (f, fd) => f.w.fd_filestat_set_size(fd, -1n), errno: 'EINVAL', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'fd_filestat_set_size', name: 'past the largest file', setup: hello, call: (f, fd) => f.w.fd_filestat_set_size(fd, two32), errno: 'EFBIG' }),
  row({ fn: 'fd_filestat_set_size', name: '101 bytes in a 100-byte tmpfs', options: tiny, setup: newFile, call: (f, fd) => f.w.fd_filestat_set_size(fd, 101n), errno: 'ENOSPC' }),
  row({ fn: 'fd_filestat_set_size', name: 'a directory', call: (f) => f.w.fd_filestat_set_size(rootFd, 0n), errno: 'EISDIR' }),
  // POSIX ftruncate on an fd not open for writing: EINVAL (see the function's doc).
  row({ fn: 'fd_filestat_set_size', name: 'file opened without FD_FILESTAT_SET_SIZE', setup: (f) => hello(f, R.FD_FILESTAT_SET_SIZE), call: (f, fd) => f.w.fd_filestat_set_size(fd, 0n), errno: 'EINVAL' }),
  row({ fn: 'fd_filestat_set_size', name: 'unknown fd 99', call: (f) => f.w.fd_filestat_set_size(badFd, 0n), errno: 'EBADF' }),
];

const setTimesCases: Case[] = [
  row({
    fn: 'fd_filestat_set_times',
    name: 'exact atime and mtime',
    setup: hello,
    call: (f, fd) => f.w.fd_filestat_set_times(fd, 1_000_000_001n, 2_000_000_002n, FstFlags.ATIM | FstFlags.MTIM),
    errno: 'SUCCESS',
    effect: (f, fd) => expect(f.filestatOf(fd)).toMatchObject({ atim: 1_000_000_001n, mtim: 2_000_000_002n }),
  }),
  row({
    fn: 'fd_filestat_set_times',
    name: 'only mtime: atime is left alone',
    setup: (f) => {
      const fd = hello(f);
      f.w.fd_filestat_set_times(fd, 5n, 5n, FstFlags.ATIM | FstFlags.MTIM);
      return fd;
    },
    call: (f, fd) => f.w.fd_filestat_set_times(fd, 9n, 7n, FstFlags.MTIM),
    errno: 'SUCCESS',
    effect: (f, fd) => expect(f.filestatOf(fd)).toMatchObject({ atim: 5n, mtim: 7n }),
  }),
  row({
    fn: 'fd_filestat_set_times',
    name: 'ATIM_NOW | MTIM_NOW set both to the current time',
    setup: (f) => {
      const fd = hello(f);
      f.w.fd_filestat_set_times(fd, 5n, 5n, FstFlags.ATIM | FstFlags.MTIM);
      return fd;
    },
    call: (f, fd) => f.w.fd_filestat_set_times(fd, 0n, 0n, FstFlags.ATIM_NOW | FstFlags.MTIM_NOW),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      const st = f.filestatOf(fd);
      const now = BigInt(Date.now()) * 1_000_000n;
      for (const t of [st.atim, st.mtim]) expect(Number((now - t) / 1_000_000n)).toBeLessThan(1000);
    },
  }),
  row({
    fn: 'fd_filestat_set_times',
    name: 'a directory',
    call: (f) => f.w.fd_filestat_set_times(rootFd, 3n, 4n, FstFlags.ATIM | FstFlags.MTIM),
    errno: 'SUCCESS',
    effect: (f) => expect(f.filestatOf(rootFd)).toMatchObject({ atim: 3n, mtim: 4n }),
  }),
  row({ fn: 'fd_filestat_set_times', name: 'ATIM with ATIM_NOW', setup: hello, call: (f, fd) => f.w.fd_filestat_set_times(fd, 1n, 1n, FstFlags.ATIM | FstFlags.ATIM_NOW), errno: 'EINVAL' }),
  row({ fn: 'fd_filestat_set_times', name: 'MTIM with MTIM_NOW', setup: hello, call: (f, fd) => f.w.fd_filestat_set_times(fd, 1n, 1n, FstFlags.MTIM | FstFlags.MTIM_NOW), errno: 'EINVAL' }),
  row({ fn: 'fd_filestat_set_times', name: 'unknown flag 16', setup: hello, call: (f, fd) => f.w.fd_filestat_set_times(fd, 1n, 1n, 16), errno: 'EINVAL' }),
  row({ fn: 'fd_filestat_set_times', name: 'file opened without FD_FILESTAT_SET_TIMES', setup: (f) => hello(f, R.FD_FILESTAT_SET_TIMES), call: (f, fd) => f.w.fd_filestat_set_times(fd, 1n, 1n, FstFlags.ATIM), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_filestat_set_times', name: 'stdout holds no FD_FILESTAT_SET_TIMES', call: (f) => f.w.fd_filestat_set_times(1, 1n, 1n, FstFlags.ATIM), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_filestat_set_times', name: 'unknown fd 99', call: (f) => f.w.fd_filestat_set_times(badFd, 1n, 1n, FstFlags.ATIM), errno: 'EBADF' }),
];

const preadCases: Case[] = [
  row({
    fn: 'fd_pread',
    name: "'world' at offset 6; the position stays at 0",
    setup: (f) => ({ fd: hello(f), ...f.iovs(5) }),
    call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, 6n, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(5);
      expect(f.text(s.bufs[0]!, 5)).toBe('world');
      expect(f.tell(s.fd)).toBe(0);
    },
  }),
  row({
    fn: 'fd_pread',
    name: 'two iovecs, the second cut short by the end of the file',
    setup: (f) => ({ fd: hello(f), ...f.iovs(4, 8) }),
    call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, 3n, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(8);
      expect(f.text(s.bufs[0]!, 4) + f.text(s.bufs[1]!, 4)).toBe('lo world');
    },
  }),
  row({
    fn: 'fd_pread',
    name: 'past the end of the file: 0 bytes',
    setup: (f) => ({ fd: hello(f), ...f.iovs(4) }),
    call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, 100n, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
  row({ fn: 'fd_pread', name: 'offset 2^64-1 (as i64: -1)', setup: (f) => ({ fd: hello(f), ...f.iovs(4) }), call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, -1n, out), errno: 'EINVAL' }),
  row({ fn: 'fd_pread', name: 'a directory', setup: (f) => f.iovs(4), call: (f, s) => f.w.fd_pread(rootFd, ...s.iovs, 0n, out), errno: 'EISDIR' }),
  row({ fn: 'fd_pread', name: 'stdin cannot seek', options: { stdin: 'abc' }, setup: (f) => f.iovs(4), call: (f, s) => f.w.fd_pread(0, ...s.iovs, 0n, out), errno: 'ESPIPE' }),
  row({ fn: 'fd_pread', name: 'file opened without FD_READ', setup: (f) => ({ fd: hello(f, R.FD_READ), ...f.iovs(4) }), call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, 0n, out), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_pread', name: 'file opened without FD_SEEK', setup: (f) => ({ fd: hello(f, R.FD_SEEK), ...f.iovs(4) }), call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, 0n, out), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_pread', name: 'unknown fd 99', setup: (f) => f.iovs(4), call: (f, s) => f.w.fd_pread(badFd, ...s.iovs, 0n, out), errno: 'EBADF' }),
  row({ fn: 'fd_pread', name: 'iovec array at 0xFFFFFFF0', setup: hello, call: (f, fd) => f.w.fd_pread(fd, badPtr, 1, 0n, out), errno: 'EFAULT' }),
  row({ fn: 'fd_pread', name: 'an iovec buffer at 0xFFFFFFF0', setup: (f) => ({ fd: hello(f), iovs: f.rawIovs([badPtr, 4]) }), call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, 0n, out), errno: 'EFAULT' }),
  row({ fn: 'fd_pread', name: 'nread two bytes before the end of memory', setup: (f) => ({ fd: hello(f), ...f.iovs(4) }), call: (f, s) => f.w.fd_pread(s.fd, ...s.iovs, 0n, tail), errno: 'EFAULT' }),
];

const prestatCases: Case[] = [
  row({
    fn: 'fd_prestat_get',
    name: 'the root: a DIR preopen whose name is 1 byte',
    call: (f) => f.w.fd_prestat_get(rootFd, out),
    errno: 'SUCCESS',
    effect: (f) => expect([f.u8[out], f.u32(out + 4)]).toEqual([0, 1]),
  }),
  row({ fn: 'fd_prestat_get', name: 'fd 4 after the last preopen: the scan stops here', call: (f) => f.w.fd_prestat_get(4, out), errno: 'EBADF' }),
  row({ fn: 'fd_prestat_get', name: 'an open file is not a preopen', setup: hello, call: (f, fd) => f.w.fd_prestat_get(fd, out), errno: 'EBADF' }),
  row({ fn: 'fd_prestat_get', name: 'a directory opened later is not a preopen', setup: (f) => f.openDir('dir'), call: (f, fd) => f.w.fd_prestat_get(fd, out), errno: 'EBADF' }),
  row({ fn: 'fd_prestat_get', name: 'stdin is not a preopen', call: (f) => f.w.fd_prestat_get(0, out), errno: 'EBADF' }),
  row({ fn: 'fd_prestat_get', name: 'result at 0xFFFFFFF0', call: (f) => f.w.fd_prestat_get(rootFd, badPtr), errno: 'EFAULT' }),
  row({ fn: 'fd_prestat_get', name: 'an 8-byte result 4 bytes before the end of memory', call: (f) => f.w.fd_prestat_get(rootFd, memEnd - 4), errno: 'EFAULT' }),
  row({
    fn: 'fd_prestat_dir_name',
    name: "the root's name '/', without a NUL",
    setup: (f) => {
      const buf = f.alloc(4);
      f.put(buf, 'xxxx');
      return buf;
    },
    call: (f, buf) => f.w.fd_prestat_dir_name(rootFd, buf, 4),
    errno: 'SUCCESS',
    effect: (f, buf) => expect(f.text(buf, 4)).toBe('/xxx'),
  }),
  row({ fn: 'fd_prestat_dir_name', name: 'a buffer of 0 bytes', call: (f) => f.w.fd_prestat_dir_name(rootFd, 0x2000, 0), errno: 'ENAMETOOLONG' }),
  row({ fn: 'fd_prestat_dir_name', name: 'an open file is not a preopen', setup: hello, call: (f, fd) => f.w.fd_prestat_dir_name(fd, 0x2000, 8), errno: 'EBADF' }),
  row({ fn: 'fd_prestat_dir_name', name: 'unknown fd 99', call: (f) => f.w.fd_prestat_dir_name(badFd, 0x2000, 8), errno: 'EBADF' }),
  row({ fn: 'fd_prestat_dir_name', name: 'buffer at 0xFFFFFFF0', call: (f) => f.w.fd_prestat_dir_name(rootFd, badPtr, 1), errno: 'EFAULT' }),
  row({ fn: 'fd_prestat_dir_name', name: 'buffer at the end of memory', call: (f) => f.w.fd_prestat_dir_name(rootFd, memEnd, 1), errno: 'EFAULT' }),
];

const pwriteCases: Case[] = [
  row({
    fn: 'fd_pwrite',
    name: "'WORLD' at offset 6; the position stays at 0",
    setup: (f) => ({ fd: hello(f), iovs: f.ciovs('WOR', 'LD') }),
    call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, 6n, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(5);
      expect(f.contents('file.txt')).toBe('hello WORLD');
      expect(f.tell(s.fd)).toBe(0);
    },
  }),
  row({
    fn: 'fd_pwrite',
    name: 'past the end: the gap reads as zeros',
    setup: (f) => ({ fd: hello(f), iovs: f.ciovs('!') }),
    call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, 13n, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.contents('file.txt')).toBe('hello world\0\0!'),
  }),
  row({ fn: 'fd_pwrite', name: 'offset 2^64-1 (as i64: -1)', setup: (f) => ({ fd: hello(f), iovs: f.ciovs('x') }), call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, -1n, out), errno: 'EINVAL', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'fd_pwrite', name: 'ending past the largest file', setup: (f) => ({ fd: hello(f), iovs: f.ciovs('xy') }), call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, two32 - 1n, out), errno: 'EFBIG' }),
  row({
    fn: 'fd_pwrite',
    name: 'at offset 100 in a 100-byte tmpfs: nothing changes',
    options: tiny,
    setup: (f) => ({ fd: newFile(f), iovs: f.ciovs('x') }),
    call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, 100n, out),
    errno: 'ENOSPC',
    effect: (f) => expect(f.contents('new')).toBe(''),
  }),
  row({ fn: 'fd_pwrite', name: 'stdout cannot seek', setup: (f) => f.ciovs('x'), call: (f, iovs) => f.w.fd_pwrite(1, ...iovs, 0n, out), errno: 'ESPIPE', effect: (f) => expect(f.stdout).toBe('') }),
  row({ fn: 'fd_pwrite', name: 'a directory', setup: (f) => f.ciovs('x'), call: (f, iovs) => f.w.fd_pwrite(rootFd, ...iovs, 0n, out), errno: 'EISDIR' }),
  row({ fn: 'fd_pwrite', name: 'file opened without FD_WRITE', setup: (f) => ({ fd: hello(f, R.FD_WRITE), iovs: f.ciovs('x') }), call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, 0n, out), errno: 'ENOTCAPABLE', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'fd_pwrite', name: 'unknown fd 99', setup: (f) => f.ciovs('x'), call: (f, iovs) => f.w.fd_pwrite(badFd, ...iovs, 0n, out), errno: 'EBADF' }),
  row({ fn: 'fd_pwrite', name: 'iovec array at 0xFFFFFFF0', setup: hello, call: (f, fd) => f.w.fd_pwrite(fd, badPtr, 1, 0n, out), errno: 'EFAULT' }),
  row({ fn: 'fd_pwrite', name: 'an iovec buffer running past the end of memory', setup: (f) => ({ fd: hello(f), iovs: f.rawIovs([memEnd - 2, 4]) }), call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, 0n, out), errno: 'EFAULT', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'fd_pwrite', name: 'nwritten at 0xFFFFFFF0', setup: (f) => ({ fd: hello(f), iovs: f.ciovs('x') }), call: (f, s) => f.w.fd_pwrite(s.fd, ...s.iovs, 0n, badPtr), errno: 'EFAULT' }),
];

const readCases: Case[] = [
  row({
    fn: 'fd_read',
    name: 'reads from the position and advances it',
    setup: (f) => {
      const fd = hello(f);
      f.read(fd, 6);
      return { fd, ...f.iovs(16) };
    },
    call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.text(s.bufs[0]!, f.u32(out))).toBe('world');
      expect(f.tell(s.fd)).toBe(11);
    },
  }),
  row({
    fn: 'fd_read',
    name: 'scatters over three iovecs',
    setup: (f) => ({ fd: hello(f), ...f.iovs(2, 3, 100) }),
    call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(11);
      expect([f.text(s.bufs[0]!, 2), f.text(s.bufs[1]!, 3), f.text(s.bufs[2]!, 6)]).toEqual(['he', 'llo', ' world']);
    },
  }),
  row({
    fn: 'fd_read',
    name: 'at the end of the file: 0 bytes',
    setup: (f) => {
      const fd = hello(f);
      f.read(fd);
      return { fd, ...f.iovs(8) };
    },
    call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
  row({ fn: 'fd_read', name: 'no iovecs: 0 bytes', setup: hello, call: (f, fd) => f.w.fd_read(fd, 0x2000, 0, out), errno: 'SUCCESS', effect: (f) => expect(f.u32(out)).toBe(0) }),
  row({
    fn: 'fd_read',
    name: 'stdin',
    options: { stdin: 'typed input' },
    setup: (f) => f.iovs(5, 64),
    call: (f, s) => f.w.fd_read(0, ...s.iovs, out),
    errno: 'SUCCESS',
    effect: (f, s) => expect(f.text(s.bufs[0]!, 5) + f.text(s.bufs[1]!, f.u32(out) - 5)).toBe('typed input'),
  }),
  row({ fn: 'fd_read', name: 'a directory', setup: (f) => f.iovs(8), call: (f, s) => f.w.fd_read(rootFd, ...s.iovs, out), errno: 'EISDIR' }),
  row({ fn: 'fd_read', name: 'a directory opened later', setup: (f) => ({ fd: f.openDir('full'), ...f.iovs(8) }), call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out), errno: 'EISDIR' }),
  row({ fn: 'fd_read', name: 'file opened without FD_READ', setup: (f) => ({ fd: hello(f, R.FD_READ), ...f.iovs(8) }), call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_read', name: 'stdout holds no FD_READ', setup: (f) => f.iovs(8), call: (f, s) => f.w.fd_read(1, ...s.iovs, out), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_read', name: 'unknown fd 99', setup: (f) => f.iovs(8), call: (f, s) => f.w.fd_read(badFd, ...s.iovs, out), errno: 'EBADF' }),
  row({ fn: 'fd_read', name: 'a closed fd', setup: (f) => ({ fd: closed(f), ...f.iovs(8) }), call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out), errno: 'EBADF' }),
  row({ fn: 'fd_read', name: 'iovec array at 0xFFFFFFF0', setup: hello, call: (f, fd) => f.w.fd_read(fd, badPtr, 1, out), errno: 'EFAULT' }),
  row({ fn: 'fd_read', name: 'iovec array running past the end of memory', setup: hello, call: (f, fd) => f.w.fd_read(fd, memEnd - 12, 2, out), errno: 'EFAULT' }),
  row({ fn: 'fd_read', name: `${wrappingIovCount} iovecs: the array size must not wrap to 0`, setup: hello, call: (f, fd) => f.w.fd_read(fd, 0, wrappingIovCount, out), errno: 'EFAULT' }),
  row({ fn: 'fd_read', name: 'an iovec buffer at 0xFFFFFFF0', setup: (f) => ({ fd: hello(f), iovs: f.rawIovs([badPtr, 4]) }), call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out), errno: 'EFAULT' }),
  row({ fn: 'fd_read', name: 'an iovec buffer running past the end of memory', setup: (f) => ({ fd: hello(f), iovs: f.rawIovs([memEnd - 4, 8]) }), call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, out), errno: 'EFAULT' }),
  row({ fn: 'fd_read', name: 'nread two bytes before the end of memory', setup: (f) => ({ fd: hello(f), ...f.iovs(4) }), call: (f, s) => f.w.fd_read(s.fd, ...s.iovs, tail), errno: 'EFAULT' }),
];

/** fd_readdir into a buffer of `size` bytes, from `cookie`. */
const readdir = (f: Fixture, fd: number, buf: number, size: number, cookie = 0n) => f.w.fd_readdir(fd, buf, size, cookie, out);
const withBuffer = (f: Fixture, dir: string, size = 512) => ({ fd: f.openDir(dir), buf: f.alloc(size), size });

const readdirCases: Case[] = [
  row({
    fn: 'fd_readdir',
    name: "'.', '..' then the entries, with cookies, inodes, types and the exact size used",
    setup: (f) => withBuffer(f, 'full'),
    call: (f, s) => readdir(f, s.fd, s.buf, s.size),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(3 * Layout.direntSize + 1 + 2 + 5);
      expect(f.dirents(s.buf, f.u32(out))).toEqual([
        { next: 1n, ino: f.ino('full'), type: Filetype.DIRECTORY, name: '.' },
        { next: 2n, ino: f.ns.root.ino, type: Filetype.DIRECTORY, name: '..' },
        { next: 3n, ino: f.ino('full/a.txt'), type: Filetype.REGULAR_FILE, name: 'a.txt' },
      ]);
    },
  }),
  row({
    fn: 'fd_readdir',
    name: "the root's '..' is the root itself; symlinks are listed as symlinks",
    setup: (f) => ({ fd: rootFd, buf: f.alloc(1024), size: 1024 }),
    call: (f, s) => readdir(f, s.fd, s.buf, s.size),
    errno: 'SUCCESS',
    effect: (f, s) => {
      const list = f.dirents(s.buf, f.u32(out));
      expect(list.slice(0, 2).map((d) => [d.name, d.ino])).toEqual([['.', f.ns.root.ino], ['..', f.ns.root.ino]]);
      expect(list.map((d) => d.name)).toEqual(['.', '..', 'file.txt', 'dir', 'full', 'link', 'abs', 'dirlink', 'loop1', 'loop2', 'dangling']);
      expect(list.find((d) => d.name === 'link')?.type).toBe(Filetype.SYMBOLIC_LINK);
    },
  }),
  row({
    fn: 'fd_readdir',
    name: 'd_namlen counts UTF-8 bytes',
    setup: (f) => {
      f.w.path_create_directory(rootFd, ...f.str('dir/é€'));
      return withBuffer(f, 'dir');
    },
    call: (f, s) => readdir(f, s.fd, s.buf, s.size, 2n),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(s.buf + 16)).toBe(5);
      expect(f.dirents(s.buf, f.u32(out)).map((d) => d.name)).toEqual(['é€']);
    },
  }),
  row({
    fn: 'fd_readdir',
    name: 'a 30-byte buffer: the second dirent is cut short and bufused == bufLen',
    setup: (f) => {
      const s = withBuffer(f, 'full', 64);
      f.put(s.buf, new Uint8Array(64).fill(0xee));
      return s;
    },
    call: (f, s) => readdir(f, s.fd, s.buf, 30),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(30);
      expect(f.dirents(s.buf, 30).map((d) => d.name)).toEqual(['.']);
      expect([...f.bytes(s.buf + 25, 5)]).toEqual([2, 0, 0, 0, 0]); // the start of '..': its d_next
      expect(f.u8[s.buf + 30]).toBe(0xee); // nothing past bufLen
    },
  }),
  row({
    fn: 'fd_readdir',
    name: 'a 10-byte buffer: even the first header is cut, bufused == bufLen',
    setup: (f) => withBuffer(f, 'full', 16),
    call: (f, s) => readdir(f, s.fd, s.buf, 10),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u32(out)).toBe(10),
  }),
  row({
    fn: 'fd_readdir',
    name: 'a 0-byte buffer',
    setup: (f) => withBuffer(f, 'full', 8),
    call: (f, s) => readdir(f, s.fd, s.buf, 0),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
  row({
    fn: 'fd_readdir',
    name: 'resuming at a cookie while entries are added and removed: nothing twice, nothing removed, new ones last',
    setup: (f) => {
      for (const n of ['e1', 'e2', 'e3', 'e4']) f.w.path_create_directory(rootFd, ...f.str(`dir/${n}`));
      const s = withBuffer(f, 'dir', 1024);
      const first = f.list(s.fd);
      const afterE2 = first.find((d) => d.name === 'e2')!.next;
      f.w.path_remove_directory(rootFd, ...f.str('dir/e1')); // already listed
      f.w.path_remove_directory(rootFd, ...f.str('dir/e3')); // not yet listed
      f.w.path_create_directory(rootFd, ...f.str('dir/e5'));
      f.w.path_rename(rootFd, ...f.str('dir/e2'), rootFd, ...f.str('dir/e2b')); // listed, comes back under a new name
      return { ...s, afterE2 };
    },
    call: (f, s) => readdir(f, s.fd, s.buf, s.size, s.afterE2),
    errno: 'SUCCESS',
    effect: (f, s) => expect(f.dirents(s.buf, f.u32(out)).map((d) => d.name)).toEqual(['e4', 'e5', 'e2b']),
  }),
  row({
    fn: 'fd_readdir',
    name: 'reading in pieces with a one-entry buffer lists every entry once',
    setup: (f) => {
      for (let i = 0; i < 40; i++) f.w.path_create_directory(rootFd, ...f.str(`dir/d${i}`));
      return { ...withBuffer(f, 'dir', 64), seen: [] as string[] };
    },
    call: (f, s) => {
      let cookie = 0n;
      for (;;) {
        const errno = readdir(f, s.fd, s.buf, Layout.direntSize + 3, cookie);
        if (errno !== 0) return errno;
        const [d] = f.dirents(s.buf, f.u32(out));
        if (d === undefined) break;
        s.seen.push(d.name);
        if (d.name.startsWith('d') && Number(d.name.slice(1)) % 3 === 0) f.w.path_remove_directory(rootFd, ...f.str(`dir/${d.name}`));
        cookie = d.next;
      }
      return 0;
    },
    errno: 'SUCCESS',
    effect: (_f, s) => expect(s.seen).toEqual(['.', '..', ...Array.from({ length: 40 }, (_, i) => `d${i}`)]),
  }),
  row({
    fn: 'fd_readdir',
    name: 'a cookie past the last entry lists nothing',
    setup: (f) => withBuffer(f, 'full'),
    call: (f, s) => readdir(f, s.fd, s.buf, s.size, 1000n),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
  row({
    fn: 'fd_readdir',
    name: 'cookie 2^64-1 (as i64: -1) lists nothing',
    setup: (f) => withBuffer(f, 'full'),
    call: (f, s) => readdir(f, s.fd, s.buf, s.size, -1n),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u32(out)).toBe(0),
  }),
  row({ fn: 'fd_readdir', name: 'a file', setup: (f) => ({ fd: hello(f), buf: f.alloc(64) }), call: (f, s) => readdir(f, s.fd, s.buf, 64), errno: 'ENOTDIR' }),
  row({ fn: 'fd_readdir', name: 'stdout', setup: (f) => f.alloc(64), call: (f, buf) => readdir(f, 1, buf, 64), errno: 'ENOTDIR' }),
  row({
    fn: 'fd_readdir',
    name: 'a directory opened without FD_READDIR',
    setup: (f) => ({ fd: f.openDir('full', { rights: directoryRights & ~R.FD_READDIR }), buf: f.alloc(64) }),
    call: (f, s) => readdir(f, s.fd, s.buf, 64),
    errno: 'ENOTCAPABLE',
  }),
  row({ fn: 'fd_readdir', name: 'unknown fd 99', setup: (f) => f.alloc(64), call: (f, buf) => readdir(f, badFd, buf, 64), errno: 'EBADF' }),
  row({ fn: 'fd_readdir', name: 'buffer at 0xFFFFFFF0', call: (f) => readdir(f, rootFd, badPtr, 64), errno: 'EFAULT' }),
  row({ fn: 'fd_readdir', name: 'buffer running past the end of memory', call: (f) => readdir(f, rootFd, memEnd - 10, 20), errno: 'EFAULT' }),
  row({ fn: 'fd_readdir', name: 'bufused two bytes before the end of memory', setup: (f) => f.alloc(64), call: (f, buf) => f.w.fd_readdir(rootFd, buf, 64, 0n, tail), errno: 'EFAULT' }),
];

const renumberCases: Case[] = [
  row({
    fn: 'fd_renumber',
    name: 'moves a file onto another open fd, closing what it held',
    setup: (f) => ({ a: hello(f), b: f.open('full/a.txt') }),
    call: (f, s) => f.w.fd_renumber(s.a, s.b),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.read(s.b)).toBe('hello world');
      expect(errnoName(f.w.fd_fdstat_get(s.a, out))).toBe('EBADF');
      expect(hello(f)).toBe(s.a);
    },
  }),
  row({
    fn: 'fd_renumber',
    name: 'onto stdout: writes to fd 1 land in the file',
    setup: hello,
    call: (f, fd) => f.w.fd_renumber(fd, 1),
    errno: 'SUCCESS',
    effect: (f) => {
      f.write(1, 'HELLO');
      expect(f.contents('file.txt')).toBe('HELLO world');
      expect(f.stdout).toBe('');
    },
  }),
  row({ fn: 'fd_renumber', name: 'onto itself: nothing changes', setup: hello, call: (f, fd) => f.w.fd_renumber(fd, fd), errno: 'SUCCESS', effect: (f, fd) => expect(f.read(fd)).toBe('hello world') }),
  row({ fn: 'fd_renumber', name: 'from unknown fd 99', call: (f) => f.w.fd_renumber(badFd, 1), errno: 'EBADF', effect: (f) => expect(f.write(1, 'x')).toBe(1) }),
  row({ fn: 'fd_renumber', name: 'to an fd that is not open: the source stays open', setup: hello, call: (f, fd) => f.w.fd_renumber(fd, badFd), errno: 'EBADF', effect: (f, fd) => expect(f.read(fd)).toBe('hello world') }),
];

const seekCases: Case[] = [
  ...(
    [
      ['SET 6', 6n, Whence.SET, 6],
      ['CUR +2 after reading 3', 2n, Whence.CUR, 5],
      ['CUR -3 after reading 3', -3n, Whence.CUR, 0],
      ['END -5', -5n, Whence.END, 6],
      ['END +4, past the end', 4n, Whence.END, 15],
    ] as const
  ).map(([name, offset, whence, want]) =>
    row({
      fn: 'fd_seek',
      name,
      setup: (f) => {
        const fd = hello(f);
        f.read(fd, 3);
        return fd;
      },
      call: (f, fd) => f.w.fd_seek(fd, offset, whence, out),
      errno: 'SUCCESS',
      effect: (f, fd) => {
        expect(f.u64(out)).toBe(BigInt(want));
        expect(f.tell(fd)).toBe(want);
      },
    }),
  ),
  row({
    fn: 'fd_seek',
    name: 'a write past the end leaves a hole of zeros',
    setup: hello,
    call: (f, fd) => f.w.fd_seek(fd, 13n, Whence.SET, out),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      f.write(fd, '!');
      expect(f.contents('file.txt')).toBe('hello world\0\0!');
    },
  }),
  row({
    fn: 'fd_seek',
    name: 'CUR 0 is a tell: it needs only FD_TELL',
    setup: (f) => hello(f, R.FD_SEEK),
    call: (f, fd) => f.w.fd_seek(fd, 0n, Whence.CUR, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u64(out)).toBe(0n),
  }),
  row({ fn: 'fd_seek', name: 'file opened without FD_SEEK', setup: (f) => hello(f, R.FD_SEEK), call: (f, fd) => f.w.fd_seek(fd, 1n, Whence.SET, out), errno: 'ENOTCAPABLE' }),
  ...[0, 1, 2].map((fd) => row({ fn: 'fd_seek', name: `stdio fd ${fd} is not seekable`, call: (f) => f.w.fd_seek(fd, 0n, Whence.SET, out), errno: 'ESPIPE' })),
  row({ fn: 'fd_seek', name: 'whence 3', setup: hello, call: (f, fd) => f.w.fd_seek(fd, 0n, 3, out), errno: 'EINVAL' }),
  row({ fn: 'fd_seek', name: 'before the start (SET -1): the position stays', setup: hello, call: (f, fd) => f.w.fd_seek(fd, -1n, Whence.SET, out), errno: 'EINVAL', effect: (f, fd) => expect(f.tell(fd)).toBe(0) }),
  row({ fn: 'fd_seek', name: 'before the start (END -12)', setup: hello, call: (f, fd) => f.w.fd_seek(fd, -12n, Whence.END, out), errno: 'EINVAL' }),
  row({ fn: 'fd_seek', name: 'unknown fd 99', call: (f) => f.w.fd_seek(badFd, 0n, Whence.SET, out), errno: 'EBADF' }),
  row({ fn: 'fd_seek', name: 'a closed fd', setup: closed, call: (f, fd) => f.w.fd_seek(fd, 0n, Whence.SET, out), errno: 'EBADF' }),
  row({ fn: 'fd_seek', name: 'result at 0xFFFFFFF0: the position stays', setup: hello, call: (f, fd) => f.w.fd_seek(fd, 4n, Whence.SET, badPtr), errno: 'EFAULT', effect: (f, fd) => expect(f.tell(fd)).toBe(0) }),
  row({ fn: 'fd_seek', name: 'a u64 result two bytes before the end of memory', setup: hello, call: (f, fd) => f.w.fd_seek(fd, 4n, Whence.SET, tail), errno: 'EFAULT', effect: (f, fd) => expect(f.tell(fd)).toBe(0) }),
];

const tellCases: Case[] = [
  row({ fn: 'fd_tell', name: 'a fresh fd is at 0', setup: hello, call: (f, fd) => f.w.fd_tell(fd, out), errno: 'SUCCESS', effect: (f) => expect(f.u64(out)).toBe(0n) }),
  row({
    fn: 'fd_tell',
    name: 'after a write of 3 bytes',
    setup: (f) => {
      const fd = hello(f);
      f.write(fd, 'abc');
      return fd;
    },
    call: (f, fd) => f.w.fd_tell(fd, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u64(out)).toBe(3n),
  }),
  row({
    fn: 'fd_tell',
    name: 'after an APPEND write: at the end',
    setup: (f) => {
      const fd = f.open('file.txt', { fdflags: FdFlags.APPEND });
      f.write(fd, 'abc');
      return fd;
    },
    call: (f, fd) => f.w.fd_tell(fd, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.u64(out)).toBe(14n),
  }),
  row({ fn: 'fd_tell', name: 'file opened without FD_TELL', setup: (f) => hello(f, R.FD_TELL), call: (f, fd) => f.w.fd_tell(fd, out), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_tell', name: 'stdout has no position', call: (f) => f.w.fd_tell(1, out), errno: 'ESPIPE' }),
  row({ fn: 'fd_tell', name: 'unknown fd 99', call: (f) => f.w.fd_tell(badFd, out), errno: 'EBADF' }),
  row({ fn: 'fd_tell', name: 'result at 0xFFFFFFF0', setup: hello, call: (f, fd) => f.w.fd_tell(fd, badPtr), errno: 'EFAULT' }),
  row({ fn: 'fd_tell', name: 'a u64 result two bytes before the end of memory', setup: hello, call: (f, fd) => f.w.fd_tell(fd, tail), errno: 'EFAULT' }),
];

const writeCases: Case[] = [
  row({
    fn: 'fd_write',
    name: 'stdout gathers two iovecs',
    setup: (f) => f.ciovs('hello, ', 'world\n'),
    call: (f, iovs) => f.w.fd_write(1, ...iovs, out),
    errno: 'SUCCESS',
    effect: (f) => {
      expect(f.u32(out)).toBe(13);
      expect(f.stdout).toBe('hello, world\n');
      expect(f.stderr).toBe('');
    },
  }),
  row({ fn: 'fd_write', name: 'stderr', setup: (f) => f.ciovs('oops'), call: (f, iovs) => f.w.fd_write(2, ...iovs, out), errno: 'SUCCESS', effect: (f) => expect(f.stderr).toBe('oops') }),
  row({
    fn: 'fd_write',
    name: 'a file: overwrites at the position and advances it',
    setup: (f) => ({ fd: hello(f), iovs: f.ciovs('J', 'E') }),
    call: (f, s) => f.w.fd_write(s.fd, ...s.iovs, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.contents('file.txt')).toBe('JEllo world');
      expect(f.tell(s.fd)).toBe(2);
    },
  }),
  row({
    fn: 'fd_write',
    name: 'opened with APPEND: goes to the end whatever the position',
    setup: (f) => {
      const fd = f.open('file.txt', { fdflags: FdFlags.APPEND });
      f.w.fd_seek(fd, 0n, Whence.SET, out2);
      return { fd, iovs: f.ciovs('!') };
    },
    call: (f, s) => f.w.fd_write(s.fd, ...s.iovs, out),
    errno: 'SUCCESS',
    effect: (f) => expect(f.contents('file.txt')).toBe('hello world!'),
  }),
  row({ fn: 'fd_write', name: 'no iovecs', call: (f) => f.w.fd_write(1, 0x2000, 0, out), errno: 'SUCCESS', effect: (f) => expect(f.u32(out)).toBe(0) }),
  row({
    fn: 'fd_write',
    name: 'filling a 100-byte tmpfs exactly, then one byte more: nothing of it is written',
    options: tiny,
    setup: (f) => {
      const fd = newFile(f);
      f.write(fd, 'x'.repeat(100));
      return { fd, iovs: f.ciovs('y') };
    },
    call: (f, s) => f.w.fd_write(s.fd, ...s.iovs, out),
    errno: 'ENOSPC',
    effect: (f, s) => {
      expect(f.contents('new')).toBe('x'.repeat(100));
      expect(f.tell(s.fd)).toBe(100);
    },
  }),
  row({ fn: 'fd_write', name: 'file opened without FD_WRITE', setup: (f) => ({ fd: hello(f, R.FD_WRITE), iovs: f.ciovs('x') }), call: (f, s) => f.w.fd_write(s.fd, ...s.iovs, out), errno: 'ENOTCAPABLE', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'fd_write', name: 'stdin holds no FD_WRITE', setup: (f) => f.ciovs('x'), call: (f, iovs) => f.w.fd_write(0, ...iovs, out), errno: 'ENOTCAPABLE' }),
  // write(2) on a directory fd says EBADF: it was not opened for writing. A WASI directory fd never holds FD_WRITE.
  row({ fn: 'fd_write', name: 'a directory holds no FD_WRITE', setup: (f) => f.ciovs('x'), call: (f, iovs) => f.w.fd_write(rootFd, ...iovs, out), errno: 'ENOTCAPABLE' }),
  row({ fn: 'fd_write', name: 'unknown fd 99', setup: (f) => f.ciovs('x'), call: (f, iovs) => f.w.fd_write(badFd, ...iovs, out), errno: 'EBADF' }),
  row({ fn: 'fd_write', name: 'a closed fd', setup: (f) => ({ fd: closed(f), iovs: f.ciovs('x') }), call: (f, s) => f.w.fd_write(s.fd, ...s.iovs, out), errno: 'EBADF' }),
  row({ fn: 'fd_write', name: 'iovec array at 0xFFFFFFF0', call: (f) => f.w.fd_write(1, badPtr, 1, out), errno: 'EFAULT', effect: (f) => expect(f.stdout).toBe('') }),
  row({ fn: 'fd_write', name: `${wrappingIovCount} iovecs: the array size must not wrap to 0`, call: (f) => f.w.fd_write(1, 0, wrappingIovCount, out), errno: 'EFAULT' }),
  row({ fn: 'fd_write', name: 'an iovec buffer at 0xFFFFFFF0', setup: (f) => f.rawIovs([badPtr, 4]), call: (f, iovs) => f.w.fd_write(1, ...iovs, out), errno: 'EFAULT' }),
  row({ fn: 'fd_write', name: 'an iovec of length 0xFFFFFFFF', setup: (f) => f.rawIovs([0, -1]), call: (f, iovs) => f.w.fd_write(1, ...iovs, out), errno: 'EFAULT', effect: (f) => expect(f.stdout).toBe('') }),
  row({ fn: 'fd_write', name: 'nwritten at 0xFFFFFFF0', setup: (f) => f.ciovs('x'), call: (f, iovs) => f.w.fd_write(1, ...iovs, badPtr), errno: 'EFAULT' }),
];

const cases = [
  ...adviseCases,
  ...allocateCases,
  ...closeCases,
  ...syncCases,
  ...fdstatGetCases,
  ...setFlagsCases,
  ...setRightsCases,
  ...filestatGetCases,
  ...setSizeCases,
  ...setTimesCases,
  ...preadCases,
  ...prestatCases,
  ...pwriteCases,
  ...readCases,
  ...readdirCases,
  ...renumberCases,
  ...seekCases,
  ...tellCases,
  ...writeCases,
];

describe('fd calls', () => {
  runCases(cases);
  checkCoverage('fd', cases);
});
