/**
 * Path calls: the 10 path_* functions of preview1, resolved by the VFS
 * namespace from a directory fd. Each row starts from the standard tree
 * (harness.ts): `/file.txt` "hello world", `/dir` empty, `/full/a.txt` "A",
 * `link -> file.txt`, `abs -> /file.txt`, `dirlink -> dir`,
 * `loop1 <-> loop2`, `dangling -> missing`. fd 3 is the preopened root.
 * Expected errnos are Linux's for the same call.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#path_open
 */
import { describe, expect, it } from 'vitest';
import type { DirNode } from '../../src/vfs/index.js';
import { directoryInheritingRights, Filetype, FstFlags, Rights as R } from '../../src/wasi/abi.js';
import {
  badFd,
  badPtr,
  checkCoverage,
  dirRightsWithout,
  errnoName,
  fileRights,
  LookupFlags,
  memEnd,
  OFlags,
  out,
  rootFd,
  row,
  runCases,
  tail,
  type Case,
  type Fixture,
} from './harness.js';

const follow = LookupFlags.SYMLINK_FOLLOW;
const long255 = 'n'.repeat(255);
const long256 = 'n'.repeat(256);
/** A path of `n` bytes made of short existing-looking components. */
const pathOf = (n: number) => 'a/'.repeat(Math.ceil(n / 2)).slice(0, n);
const invalidUtf8 = Uint8Array.from([0x66, 0xff, 0x66]);

/** The root fd, with `rights` dropped from its base rights. */
const rootWithout = (...rights: number[]) => (f: Fixture) => {
  for (const r of rights) f.dropRights(rootFd, r);
  return rootFd;
};
/** A directory fd that was open and is now closed. */
const closedDir = (f: Fixture) => {
  const fd = f.openDir('dir');
  f.w.fd_close(fd);
  return fd;
};
const fileFd = (f: Fixture) => f.open('file.txt');

// --- path_open --------------------------------------------------------------

const openCases: Case[] = [
  row({
    fn: 'path_open',
    name: 'an existing file: the lowest free fd, reading from the start',
    call: (f) => f.openAt('file.txt'),
    errno: 'SUCCESS',
    effect: (f) => {
      expect(f.u32(out)).toBe(4);
      expect(f.read(4)).toBe('hello world');
    },
  }),
  row({
    fn: 'path_open',
    name: 'the new fd holds what was asked, narrowed to what a file can hold',
    call: (f) => f.openAt('file.txt', { rights: directoryInheritingRights, inheriting: directoryInheritingRights }),
    errno: 'SUCCESS',
    effect: (f) => expect(f.fdstatOf(f.u32(out))).toMatchObject({ type: Filetype.REGULAR_FILE, base: BigInt(fileRights), inheriting: BigInt(fileRights) }),
  }),
  row({
    fn: 'path_open',
    name: 'CREAT makes an empty file',
    call: (f) => f.openAt('dir/new', { oflags: OFlags.CREAT }),
    errno: 'SUCCESS',
    effect: (f) => expect(f.contents('dir/new')).toBe(''),
  }),
  row({ fn: 'path_open', name: 'CREAT on an existing file keeps it', call: (f) => f.openAt('file.txt', { oflags: OFlags.CREAT }), errno: 'SUCCESS', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_open', name: 'CREAT|EXCL on a new name', call: (f) => f.openAt('new', { oflags: OFlags.CREAT | OFlags.EXCL }), errno: 'SUCCESS', effect: (f) => expect(f.node('new')?.type).toBe('file') }),
  row({ fn: 'path_open', name: 'TRUNC empties the file', call: (f) => f.openAt('file.txt', { oflags: OFlags.TRUNC }), errno: 'SUCCESS', effect: (f) => expect(f.contents('file.txt')).toBe('') }),
  row({
    fn: 'path_open',
    name: 'CREAT through a dangling symlink creates its target',
    call: (f) => f.openAt('dangling', { oflags: OFlags.CREAT }),
    errno: 'SUCCESS',
    effect: (f) => {
      expect(f.node('missing')?.type).toBe('file');
      expect(f.node('dangling')?.type).toBe('symlink');
    },
  }),
  row({
    fn: 'path_open',
    name: 'DIRECTORY on a directory, through a symlink',
    call: (f) => f.openAt('dirlink', { oflags: OFlags.DIRECTORY }),
    errno: 'SUCCESS',
    effect: (f) => expect(f.fdstatOf(f.u32(out)).type).toBe(Filetype.DIRECTORY),
  }),
  row({
    fn: 'path_open',
    name: 'a directory, opened like a file without FD_WRITE',
    call: (f) => f.openAt('dir', { rights: R.FD_READDIR | R.PATH_OPEN }),
    errno: 'SUCCESS',
    effect: (f) => expect(f.fdstatOf(f.u32(out)).type).toBe(Filetype.DIRECTORY),
  }),
  row({ fn: 'path_open', name: 'a relative symlink, followed', call: (f) => f.openAt('link'), errno: 'SUCCESS', effect: (f) => expect(f.read(f.u32(out))).toBe('hello world') }),
  row({
    fn: 'path_open',
    name: 'an absolute symlink in the tree resolves against the process root, from a subdirectory fd too',
    setup: (f) => (f.ns.symlink('/file.txt', f.ns.root, 'full/abs'), f.openDir('full')),
    call: (f, dir) => f.openAt('abs', { dir }),
    errno: 'SUCCESS',
    effect: (f) => expect(f.read(f.u32(out))).toBe('hello world'),
  }),
  row({
    fn: 'path_open',
    name: "a symlink in the tree climbing above a subdirectory fd, container-style",
    setup: (f) => (f.ns.symlink('../../../file.txt', f.ns.root, 'full/up'), f.openDir('full')),
    call: (f, dir) => f.openAt('up', { dir }),
    errno: 'SUCCESS',
    effect: (f) => expect(f.read(f.u32(out))).toBe('hello world'),
  }),
  row({ fn: 'path_open', name: "'..' that stays beneath the fd", call: (f) => f.openAt('dir/../full/./a.txt'), errno: 'SUCCESS', effect: (f) => expect(f.read(f.u32(out))).toBe('A') }),
  row({ fn: 'path_open', name: "'..' above the root fd", call: (f) => f.openAt('../../../file.txt'), errno: 'EPERM' }),
  row({ fn: 'path_open', name: "'..' from the root fd", call: (f) => f.openAt('..', { oflags: OFlags.DIRECTORY }), errno: 'EPERM' }),
  row({ fn: 'path_open', name: 'an absolute path from a subdirectory fd', setup: (f) => f.openDir('dir'), call: (f, dir) => f.openAt('/full/a.txt', { dir }), errno: 'EPERM' }),
  row({ fn: 'path_open', name: 'CREAT with an absolute path: nothing is made', call: (f) => f.openAt('/new', { oflags: OFlags.CREAT }), errno: 'EPERM', effect: (f) => expect(f.node('new')).toBeUndefined() }),
  row({
    fn: 'path_open',
    name: 'in a jail, an absolute symlink resolves inside the jail',
    options: { jail: true },
    call: (f) => f.openAt('escape'),
    errno: 'SUCCESS',
    effect: (f) => expect(f.read(f.u32(out))).toBe('inside'),
  }),
  row({ fn: 'path_open', name: "in a jail, a symlink of '..'s stays inside", options: { jail: true }, call: (f) => f.openAt('up'), errno: 'SUCCESS', effect: (f) => expect(f.read(f.u32(out))).toBe('inside') }),
  row({ fn: 'path_open', name: "in a jail, '../secret' is refused", options: { jail: true }, call: (f) => f.openAt('../secret'), errno: 'EPERM' }),
  row({
    fn: 'path_open',
    name: "in a jail, a symlink the guest made of '..'s stays inside",
    options: { jail: true },
    setup: (f) => f.w.path_symlink(...f.str('../../../../../secret'), rootFd, ...f.str('mine')),
    call: (f) => f.openAt('mine'),
    errno: 'SUCCESS',
    effect: (f) => expect(f.read(f.u32(out))).toBe('inside'),
  }),
  row({
    fn: 'path_open',
    name: 'a chain of 40 symlinks is followed',
    setup: (f) => {
      for (let i = 0; i < 40; i++) f.w.path_symlink(...f.str(i === 39 ? 'file.txt' : `c${i + 1}`), rootFd, ...f.str(`c${i}`));
    },
    call: (f) => f.openAt('c0'),
    errno: 'SUCCESS',
    effect: (f) => expect(f.read(f.u32(out))).toBe('hello world'),
  }),
  row({
    fn: 'path_open',
    name: 'a chain of 41 symlinks',
    setup: (f) => {
      for (let i = 0; i < 41; i++) f.w.path_symlink(...f.str(i === 40 ? 'file.txt' : `c${i + 1}`), rootFd, ...f.str(`c${i}`));
    },
    call: (f) => f.openAt('c0'),
    errno: 'ELOOP',
  }),
  row({ fn: 'path_open', name: 'a symlink loop', call: (f) => f.openAt('loop1'), errno: 'ELOOP' }),
  row({ fn: 'path_open', name: 'a symlink loop in the middle of a path', call: (f) => f.openAt('loop1/x', { follow: false }), errno: 'ELOOP' }),
  row({ fn: 'path_open', name: 'a symlink without SYMLINK_FOLLOW (O_NOFOLLOW)', call: (f) => f.openAt('link', { follow: false }), errno: 'ELOOP' }),
  row({ fn: 'path_open', name: 'CREAT on a symlink without SYMLINK_FOLLOW', call: (f) => f.openAt('dangling', { follow: false, oflags: OFlags.CREAT }), errno: 'ELOOP', effect: (f) => expect(f.node('missing')).toBeUndefined() }),
  row({ fn: 'path_open', name: 'a missing file', call: (f) => f.openAt('nope'), errno: 'ENOENT' }),
  row({ fn: 'path_open', name: 'CREAT under a missing directory', call: (f) => f.openAt('nope/new', { oflags: OFlags.CREAT }), errno: 'ENOENT' }),
  row({ fn: 'path_open', name: 'a dangling symlink', call: (f) => f.openAt('dangling'), errno: 'ENOENT' }),
  row({ fn: 'path_open', name: 'an empty path', call: (f) => f.openAt(''), errno: 'ENOENT' }),
  row({ fn: 'path_open', name: 'CREAT|EXCL on an existing file', call: (f) => f.openAt('file.txt', { oflags: OFlags.CREAT | OFlags.EXCL }), errno: 'EEXIST' }),
  row({ fn: 'path_open', name: 'CREAT|EXCL on a dangling symlink', call: (f) => f.openAt('dangling', { oflags: OFlags.CREAT | OFlags.EXCL }), errno: 'EEXIST', effect: (f) => expect(f.node('missing')).toBeUndefined() }),
  row({ fn: 'path_open', name: 'DIRECTORY on a file', call: (f) => f.openAt('file.txt', { oflags: OFlags.DIRECTORY }), errno: 'ENOTDIR' }),
  row({ fn: 'path_open', name: 'a file used as a directory', call: (f) => f.openAt('file.txt/x'), errno: 'ENOTDIR' }),
  row({ fn: 'path_open', name: 'a file with a trailing slash', call: (f) => f.openAt('file.txt/'), errno: 'ENOTDIR' }),
  row({ fn: 'path_open', name: 'through an fd that is a file', setup: fileFd, call: (f, dir) => f.openAt('x', { dir }), errno: 'ENOTDIR' }),
  row({ fn: 'path_open', name: 'through stdin', call: (f) => f.openAt('file.txt', { dir: 0 }), errno: 'ENOTDIR' }),
  row({ fn: 'path_open', name: 'CREAT on a directory', call: (f) => f.openAt('dir', { oflags: OFlags.CREAT }), errno: 'EISDIR' }),
  row({ fn: 'path_open', name: 'CREAT with a trailing slash on a new name', call: (f) => f.openAt('new/', { oflags: OFlags.CREAT }), errno: 'EISDIR', effect: (f) => expect(f.node('new')).toBeUndefined() }),
  row({ fn: 'path_open', name: 'CREAT with a trailing slash on an existing file', call: (f) => f.openAt('file.txt/', { oflags: OFlags.CREAT | OFlags.TRUNC }), errno: 'EISDIR', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_open', name: 'a directory with FD_WRITE', call: (f) => f.openAt('dir', { rights: R.FD_WRITE }), errno: 'EISDIR' }),
  row({ fn: 'path_open', name: 'a directory with TRUNC', call: (f) => f.openAt('dir', { oflags: OFlags.TRUNC }), errno: 'EISDIR' }),
  row({ fn: 'path_open', name: 'CREAT with a 255-byte name', call: (f) => f.openAt(long255, { oflags: OFlags.CREAT }), errno: 'SUCCESS', effect: (f) => expect(f.node(long255)?.type).toBe('file') }),
  row({ fn: 'path_open', name: 'a 256-byte name', call: (f) => f.openAt(long256), errno: 'ENAMETOOLONG' }),
  row({ fn: 'path_open', name: 'CREAT with a 256-byte name', call: (f) => f.openAt(`dir/${long256}`, { oflags: OFlags.CREAT }), errno: 'ENAMETOOLONG' }),
  row({ fn: 'path_open', name: 'a 256-byte name made of 2-byte characters (128 of them)', call: (f) => f.openAt('é'.repeat(128)), errno: 'ENAMETOOLONG' }),
  row({ fn: 'path_open', name: 'a 4097-byte path', call: (f) => f.openAt(pathOf(4097)), errno: 'ENAMETOOLONG' }),
  // PATH_MAX (4096) counts the terminating NUL: Linux refuses 4096 bytes and accepts 4095.
  row({ fn: 'path_open', name: 'a 4096-byte path', call: (f) => f.openAt(pathOf(4096)), errno: 'ENAMETOOLONG' }),
  row({ fn: 'path_open', name: 'a 4095-byte path of a/a/…', call: (f) => f.openAt(pathOf(4095)), errno: 'ENOENT' }),
  row({ fn: 'path_open', name: 'a path that is not UTF-8', setup: (f) => f.ns.root.size, call: (f) => f.openAt(invalidUtf8, { oflags: OFlags.CREAT }), errno: 'EILSEQ', effect: (f, size) => expect(f.ns.root.size).toBe(size) }),
  row({ fn: 'path_open', name: 'a path with a NUL byte', call: (f) => f.openAt('file.txt\0x'), errno: 'EINVAL' }),
  row({ fn: 'path_open', name: 'unknown oflag 16', call: (f) => f.openAt('file.txt', { oflags: 16 }), errno: 'EINVAL' }),
  row({
    fn: 'path_open',
    name: 'rights beyond the directory fd’s inheriting rights',
    setup: (f) => f.openDir('dir', { inheriting: fileRights & ~R.FD_WRITE }),
    call: (f, dir) => f.openAt('../file.txt', { dir, rights: R.FD_READ | R.FD_WRITE }),
    errno: 'ENOTCAPABLE',
  }),
  row({ fn: 'path_open', name: 'inheriting rights beyond the directory fd’s', setup: (f) => f.openDir('dir', { inheriting: R.FD_READ }), call: (f, dir) => f.openAt('../file.txt', { dir, rights: R.FD_READ, inheriting: R.FD_SEEK }), errno: 'ENOTCAPABLE' }),
  row({ fn: 'path_open', name: 'through a directory without PATH_OPEN', setup: rootWithout(R.PATH_OPEN), call: (f) => f.openAt('file.txt'), errno: 'ENOTCAPABLE' }),
  row({ fn: 'path_open', name: 'CREAT through a directory without PATH_CREATE_FILE', setup: rootWithout(R.PATH_CREATE_FILE), call: (f) => f.openAt('new', { oflags: OFlags.CREAT }), errno: 'ENOTCAPABLE', effect: (f) => expect(f.node('new')).toBeUndefined() }),
  row({ fn: 'path_open', name: 'TRUNC through a directory without PATH_FILESTAT_SET_SIZE', setup: rootWithout(R.PATH_FILESTAT_SET_SIZE), call: (f) => f.openAt('file.txt', { oflags: OFlags.TRUNC }), errno: 'ENOTCAPABLE', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({
    fn: 'path_open',
    name: 'maxFds 8: the fifth open after stdio and the root, and CREAT makes nothing',
    options: { maxFds: 8 },
    setup: (f) => [0, 1, 2, 3].map(() => f.open('file.txt')),
    call: (f) => f.openAt('new', { oflags: OFlags.CREAT }),
    errno: 'EMFILE',
    effect: (f, fds) => {
      expect(fds).toEqual([4, 5, 6, 7]);
      expect(f.node('new')).toBeUndefined();
      f.w.fd_close(5);
      expect(f.open('file.txt')).toBe(5);
    },
  }),
  row({
    fn: 'path_open',
    name: 'CREAT past maxInodes 3 (the root and two files): nothing is made',
    options: { empty: true, limits: { maxInodes: 3 } },
    setup: (f) => [f.open('a', { oflags: OFlags.CREAT }), f.open('b', { oflags: OFlags.CREAT })],
    call: (f) => f.openAt('c', { oflags: OFlags.CREAT }),
    errno: 'ENOSPC',
    effect: (f) => {
      expect(f.node('c')).toBeUndefined();
      expect(f.fs.usage.inodes).toBe(3);
      expect(errnoName(f.w.fd_fdstat_get(6, out))).toBe('EBADF');
    },
  }),
  row({ fn: 'path_open', name: 'unknown fd 99', call: (f) => f.openAt('file.txt', { dir: badFd }), errno: 'EBADF' }),
  row({ fn: 'path_open', name: 'a closed directory fd', setup: closedDir, call: (f, dir) => f.openAt('x', { dir }), errno: 'EBADF' }),
  row({ fn: 'path_open', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_open(rootFd, follow, badPtr, 4, 0, BigInt(fileRights), 0n, 0, out), errno: 'EFAULT' }),
  row({ fn: 'path_open', name: 'path running past the end of memory', call: (f) => f.w.path_open(rootFd, follow, memEnd - 2, 4, 0, BigInt(fileRights), 0n, 0, out), errno: 'EFAULT' }),
  row({
    fn: 'path_open',
    name: 'result two bytes before the end of memory: nothing is created or opened',
    call: (f) => f.openAt('new', { oflags: OFlags.CREAT, opened: tail }),
    errno: 'EFAULT',
    effect: (f) => {
      expect(f.node('new')).toBeUndefined();
      expect(errnoName(f.w.fd_fdstat_get(4, out))).toBe('EBADF');
    },
  }),
];

// --- path_create_directory ----------------------------------------------------

const mkdir = (f: Fixture, path: string | Uint8Array, dir = rootFd) => f.w.path_create_directory(dir, ...f.str(path));

const mkdirCases: Case[] = [
  row({ fn: 'path_create_directory', name: 'a new directory', call: (f) => mkdir(f, 'new'), errno: 'SUCCESS', effect: (f) => expect(f.node('new')?.type).toBe('directory') }),
  row({ fn: 'path_create_directory', name: 'with a trailing slash', call: (f) => mkdir(f, 'new/'), errno: 'SUCCESS', effect: (f) => expect(f.node('new')?.type).toBe('directory') }),
  row({ fn: 'path_create_directory', name: 'relative to a subdirectory fd', setup: (f) => f.openDir('full'), call: (f, dir) => mkdir(f, 'sub', dir), errno: 'SUCCESS', effect: (f) => expect(f.node('full/sub')?.type).toBe('directory') }),
  row({ fn: 'path_create_directory', name: "'..' above the fd: nothing is made", call: (f) => mkdir(f, '../../new'), errno: 'EPERM', effect: (f) => expect(f.node('new')).toBeUndefined() }),
  row({ fn: 'path_create_directory', name: 'through a symlink to a directory', call: (f) => mkdir(f, 'dirlink/sub'), errno: 'SUCCESS', effect: (f) => expect(f.node('dir/sub')?.type).toBe('directory') }),
  ...['dir', 'file.txt', 'link', 'dangling', '.', 'dir/..'].map((path) =>
    row({ fn: 'path_create_directory', name: `'${path}' exists`, call: (f) => mkdir(f, path), errno: 'EEXIST' }),
  ),
  row({ fn: 'path_create_directory', name: 'under a missing directory', call: (f) => mkdir(f, 'nope/sub'), errno: 'ENOENT' }),
  row({ fn: 'path_create_directory', name: 'an empty path', call: (f) => mkdir(f, ''), errno: 'ENOENT' }),
  row({ fn: 'path_create_directory', name: 'under a file', call: (f) => mkdir(f, 'file.txt/sub'), errno: 'ENOTDIR' }),
  row({ fn: 'path_create_directory', name: 'through an fd that is a file', setup: fileFd, call: (f, fd) => mkdir(f, 'sub', fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_create_directory', name: 'a 256-byte name', call: (f) => mkdir(f, long256), errno: 'ENAMETOOLONG' }),
  row({ fn: 'path_create_directory', name: 'a name that is not UTF-8', call: (f) => mkdir(f, invalidUtf8), errno: 'EILSEQ' }),
  row({ fn: 'path_create_directory', name: 'a directory fd without PATH_CREATE_DIRECTORY', setup: rootWithout(R.PATH_CREATE_DIRECTORY), call: (f) => mkdir(f, 'new'), errno: 'ENOTCAPABLE', effect: (f) => expect(f.node('new')).toBeUndefined() }),
  row({
    fn: 'path_create_directory',
    name: 'past maxInodes 3',
    options: { empty: true, limits: { maxInodes: 3 } },
    setup: (f) => [mkdir(f, 'a'), mkdir(f, 'b')],
    call: (f) => mkdir(f, 'c'),
    errno: 'ENOSPC',
    effect: (f, made) => {
      expect(made).toEqual([0, 0]);
      expect(f.node('c')).toBeUndefined();
    },
  }),
  row({ fn: 'path_create_directory', name: 'unknown fd 99', call: (f) => mkdir(f, 'new', badFd), errno: 'EBADF' }),
  row({ fn: 'path_create_directory', name: 'a closed directory fd', setup: closedDir, call: (f, fd) => mkdir(f, 'new', fd), errno: 'EBADF' }),
  row({ fn: 'path_create_directory', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_create_directory(rootFd, badPtr, 3), errno: 'EFAULT' }),
  row({ fn: 'path_create_directory', name: 'path length 0xFFFFFFFF', call: (f) => f.w.path_create_directory(rootFd, 0x2000, -1), errno: 'EFAULT' }),
];

// --- path_filestat_get ----------------------------------------------------------

const stat = (f: Fixture, path: string | Uint8Array, flags: number = follow, dir = rootFd, buf = out) =>
  f.w.path_filestat_get(dir, flags, ...f.str(path), buf);

const statCases: Case[] = [
  row({
    fn: 'path_filestat_get',
    name: 'a file',
    call: (f) => stat(f, 'file.txt'),
    errno: 'SUCCESS',
    effect: (f) => expect(f.filestat(out)).toMatchObject({ dev: 1n, ino: f.ino('file.txt'), type: Filetype.REGULAR_FILE, nlink: 1n, size: 11n }),
  }),
  row({ fn: 'path_filestat_get', name: 'a symlink, not followed: the link itself', call: (f) => stat(f, 'link', 0), errno: 'SUCCESS', effect: (f) => expect(f.filestat(out)).toMatchObject({ ino: f.ino('link'), type: Filetype.SYMBOLIC_LINK, size: 8n }) }),
  row({ fn: 'path_filestat_get', name: 'a symlink, followed', call: (f) => stat(f, 'link'), errno: 'SUCCESS', effect: (f) => expect(f.filestat(out)).toMatchObject({ ino: f.ino('file.txt'), type: Filetype.REGULAR_FILE }) }),
  row({ fn: 'path_filestat_get', name: 'an absolute symlink, followed from a subdirectory', setup: (f) => (f.ns.symlink('/file.txt', f.ns.root, 'full/abs'), f.openDir('full')), call: (f, dir) => stat(f, 'abs', follow, dir), errno: 'SUCCESS', effect: (f) => expect(f.filestat(out).ino).toBe(f.ino('file.txt')) }),
  row({ fn: 'path_filestat_get', name: 'a dangling symlink, not followed', call: (f) => stat(f, 'dangling', 0), errno: 'SUCCESS', effect: (f) => expect(f.filestat(out).type).toBe(Filetype.SYMBOLIC_LINK) }),
  row({ fn: 'path_filestat_get', name: 'a directory: nlink counts its subdirectories', call: (f) => stat(f, '.'), errno: 'SUCCESS', effect: (f) => expect(f.filestat(out)).toMatchObject({ ino: f.ns.root.ino, type: Filetype.DIRECTORY, nlink: 4n }) }),
  row({ fn: 'path_filestat_get', name: "'..' above the fd", call: (f) => stat(f, '../..'), errno: 'EPERM' }),
  row({ fn: 'path_filestat_get', name: 'in a jail, a symlink of ..s names the jail’s root', options: { jail: true }, setup: (f) => f.ns.symlink('../../..', f.ns.root, 'top'), call: (f) => stat(f, 'top'), errno: 'SUCCESS', effect: (f) => expect(f.filestat(out).ino).toBe(f.ns.root.ino) }),
  row({ fn: 'path_filestat_get', name: 'a missing file', call: (f) => stat(f, 'nope'), errno: 'ENOENT' }),
  row({ fn: 'path_filestat_get', name: 'a dangling symlink, followed', call: (f) => stat(f, 'dangling'), errno: 'ENOENT' }),
  row({ fn: 'path_filestat_get', name: 'a symlink loop, followed', call: (f) => stat(f, 'loop1'), errno: 'ELOOP' }),
  row({ fn: 'path_filestat_get', name: 'a symlink loop, not followed', call: (f) => stat(f, 'loop1', 0), errno: 'SUCCESS', effect: (f) => expect(f.filestat(out).type).toBe(Filetype.SYMBOLIC_LINK) }),
  row({ fn: 'path_filestat_get', name: 'a file with a trailing slash', call: (f) => stat(f, 'file.txt/'), errno: 'ENOTDIR' }),
  row({ fn: 'path_filestat_get', name: 'through an fd that is a file', setup: fileFd, call: (f, fd) => stat(f, 'x', follow, fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_filestat_get', name: 'a 256-byte name', call: (f) => stat(f, long256), errno: 'ENAMETOOLONG' }),
  row({ fn: 'path_filestat_get', name: 'a name that is not UTF-8', call: (f) => stat(f, invalidUtf8), errno: 'EILSEQ' }),
  row({ fn: 'path_filestat_get', name: 'a directory fd without PATH_FILESTAT_GET', setup: rootWithout(R.PATH_FILESTAT_GET), call: (f) => stat(f, 'file.txt'), errno: 'ENOTCAPABLE' }),
  row({ fn: 'path_filestat_get', name: 'unknown fd 99', call: (f) => stat(f, 'file.txt', follow, badFd), errno: 'EBADF' }),
  row({ fn: 'path_filestat_get', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_filestat_get(rootFd, follow, badPtr, 4, out), errno: 'EFAULT' }),
  row({ fn: 'path_filestat_get', name: 'result at 0xFFFFFFF0', call: (f) => stat(f, 'file.txt', follow, rootFd, badPtr), errno: 'EFAULT' }),
  row({ fn: 'path_filestat_get', name: 'a 64-byte result 32 bytes before the end of memory', call: (f) => stat(f, 'file.txt', follow, rootFd, memEnd - 32), errno: 'EFAULT' }),
];

// --- path_filestat_set_times ------------------------------------------------------

const utimes = (f: Fixture, path: string, atim: bigint, mtim: bigint, fst: number, flags: number = follow, dir = rootFd) =>
  f.w.path_filestat_set_times(dir, flags, ...f.str(path), atim, mtim, fst);
const times = (f: Fixture, path: string) => {
  const st = f.ns.resolve(f.ns.root, path, false, 'test').stat();
  return [st.atimeNs, st.mtimeNs];
};

const setTimesCases: Case[] = [
  row({ fn: 'path_filestat_set_times', name: 'exact atime and mtime', call: (f) => utimes(f, 'file.txt', 11n, 22n, FstFlags.ATIM | FstFlags.MTIM), errno: 'SUCCESS', effect: (f) => expect(times(f, 'file.txt')).toEqual([11n, 22n]) }),
  row({
    fn: 'path_filestat_set_times',
    name: 'through a followed symlink: the target changes',
    call: (f) => utimes(f, 'link', 11n, 22n, FstFlags.ATIM | FstFlags.MTIM),
    errno: 'SUCCESS',
    effect: (f) => {
      expect(times(f, 'file.txt')).toEqual([11n, 22n]);
      expect(times(f, 'link')).not.toEqual([11n, 22n]);
    },
  }),
  row({
    fn: 'path_filestat_set_times',
    name: 'a symlink not followed: the link itself changes',
    call: (f) => utimes(f, 'link', 11n, 22n, FstFlags.ATIM | FstFlags.MTIM, 0),
    errno: 'SUCCESS',
    effect: (f) => {
      expect(times(f, 'link')).toEqual([11n, 22n]);
      expect(times(f, 'file.txt')).not.toEqual([11n, 22n]);
    },
  }),
  row({
    fn: 'path_filestat_set_times',
    name: 'MTIM_NOW only',
    setup: (f) => void utimes(f, 'dir', 5n, 5n, FstFlags.ATIM | FstFlags.MTIM),
    call: (f) => utimes(f, 'dir', 0n, 0n, FstFlags.MTIM_NOW),
    errno: 'SUCCESS',
    effect: (f) => {
      const [a, m] = times(f, 'dir');
      expect(a).toBe(5n);
      expect(Math.abs(Number(m! / 1_000_000n) - Date.now())).toBeLessThan(1000);
    },
  }),
  row({ fn: 'path_filestat_set_times', name: 'ATIM with ATIM_NOW', call: (f) => utimes(f, 'file.txt', 1n, 1n, FstFlags.ATIM | FstFlags.ATIM_NOW), errno: 'EINVAL' }),
  row({ fn: 'path_filestat_set_times', name: 'MTIM with MTIM_NOW', call: (f) => utimes(f, 'file.txt', 1n, 1n, FstFlags.MTIM | FstFlags.MTIM_NOW), errno: 'EINVAL' }),
  row({ fn: 'path_filestat_set_times', name: 'unknown flag 16', call: (f) => utimes(f, 'file.txt', 1n, 1n, 16), errno: 'EINVAL' }),
  row({ fn: 'path_filestat_set_times', name: 'a missing file', call: (f) => utimes(f, 'nope', 1n, 1n, FstFlags.ATIM), errno: 'ENOENT' }),
  row({ fn: 'path_filestat_set_times', name: 'a dangling symlink, followed', call: (f) => utimes(f, 'dangling', 1n, 1n, FstFlags.ATIM), errno: 'ENOENT' }),
  row({ fn: 'path_filestat_set_times', name: 'a directory fd without PATH_FILESTAT_SET_TIMES', setup: rootWithout(R.PATH_FILESTAT_SET_TIMES), call: (f) => utimes(f, 'file.txt', 1n, 1n, FstFlags.ATIM), errno: 'ENOTCAPABLE' }),
  row({ fn: 'path_filestat_set_times', name: 'through an fd that is a file', setup: fileFd, call: (f, fd) => utimes(f, 'x', 1n, 1n, FstFlags.ATIM, follow, fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_filestat_set_times', name: 'unknown fd 99', call: (f) => utimes(f, 'file.txt', 1n, 1n, FstFlags.ATIM, follow, badFd), errno: 'EBADF' }),
  row({ fn: 'path_filestat_set_times', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_filestat_set_times(rootFd, follow, badPtr, 4, 1n, 1n, FstFlags.ATIM), errno: 'EFAULT' }),
];

// --- path_link --------------------------------------------------------------------

const link = (f: Fixture, from: string, to: string, flags = 0, oldFd = rootFd, newFd = rootFd) =>
  f.w.path_link(oldFd, flags, ...f.str(from), newFd, ...f.str(to));

const linkCases: Case[] = [
  row({
    fn: 'path_link',
    name: 'a second name for a file: same inode, 2 links',
    call: (f) => link(f, 'file.txt', 'dir/hard'),
    errno: 'SUCCESS',
    effect: (f) => {
      expect(f.ino('dir/hard')).toBe(f.ino('file.txt'));
      expect(f.ns.resolve(f.ns.root, 'file.txt', false, 'test').stat().nlink).toBe(2);
      expect(f.contents('dir/hard')).toBe('hello world');
    },
  }),
  row({ fn: 'path_link', name: 'a symlink, not followed: links the symlink itself', call: (f) => link(f, 'link', 'hard'), errno: 'SUCCESS', effect: (f) => expect(f.ino('hard')).toBe(f.ino('link')) }),
  row({ fn: 'path_link', name: 'a symlink, followed: links its target', call: (f) => link(f, 'link', 'hard', follow), errno: 'SUCCESS', effect: (f) => expect(f.ino('hard')).toBe(f.ino('file.txt')) }),
  row({ fn: 'path_link', name: 'between two directory fds', setup: (f) => f.openDir('full'), call: (f, full) => link(f, 'a.txt', 'b.txt', 0, full, full), errno: 'SUCCESS', effect: (f) => expect(f.contents('full/b.txt')).toBe('A') }),
  row({ fn: 'path_link', name: 'onto an existing name', call: (f) => link(f, 'file.txt', 'full/a.txt'), errno: 'EEXIST', effect: (f) => expect(f.contents('full/a.txt')).toBe('A') }),
  row({ fn: 'path_link', name: 'onto a dangling symlink', call: (f) => link(f, 'file.txt', 'dangling'), errno: 'EEXIST' }),
  row({ fn: 'path_link', name: 'a missing source', call: (f) => link(f, 'nope', 'hard'), errno: 'ENOENT' }),
  row({ fn: 'path_link', name: 'into a missing directory', call: (f) => link(f, 'file.txt', 'nope/hard'), errno: 'ENOENT' }),
  row({ fn: 'path_link', name: 'a directory', call: (f) => link(f, 'dir', 'hard'), errno: 'EPERM' }),
  row({ fn: 'path_link', name: 'source fd without PATH_LINK_SOURCE', setup: rootWithout(R.PATH_LINK_SOURCE), call: (f) => link(f, 'file.txt', 'hard'), errno: 'ENOTCAPABLE' }),
  row({ fn: 'path_link', name: 'target fd without PATH_LINK_TARGET', setup: (f) => f.openDir('dir', { rights: dirRightsWithout(R.PATH_LINK_TARGET) }), call: (f, dir) => link(f, 'file.txt', 'hard', 0, rootFd, dir), errno: 'ENOTCAPABLE', effect: (f) => expect(f.node('dir/hard')).toBeUndefined() }),
  row({ fn: 'path_link', name: 'source fd that is a file', setup: fileFd, call: (f, fd) => link(f, 'x', 'hard', 0, fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_link', name: 'unknown source fd 99', call: (f) => link(f, 'file.txt', 'hard', 0, badFd), errno: 'EBADF' }),
  row({ fn: 'path_link', name: 'unknown target fd 99', call: (f) => link(f, 'file.txt', 'hard', 0, rootFd, badFd), errno: 'EBADF' }),
  row({ fn: 'path_link', name: 'source path at 0xFFFFFFF0', call: (f) => f.w.path_link(rootFd, 0, badPtr, 4, rootFd, ...f.str('hard')), errno: 'EFAULT', effect: (f) => expect(f.node('hard')).toBeUndefined() }),
  row({ fn: 'path_link', name: 'target path at 0xFFFFFFF0', call: (f) => f.w.path_link(rootFd, 0, ...f.str('file.txt'), rootFd, badPtr, 4), errno: 'EFAULT' }),
];

// --- path_readlink ------------------------------------------------------------------

const readlink = (f: Fixture, path: string, size = 64, dir = rootFd) => {
  const buf = f.alloc(size);
  return { errno: f.w.path_readlink(dir, ...f.str(path), buf, size, out), buf };
};

const readlinkCases: Case[] = [
  row({
    fn: 'path_readlink',
    name: 'a relative target, without a NUL',
    setup: (f) => ({ buf: f.alloc(16) }),
    call: (f, s) => f.w.path_readlink(rootFd, ...f.str('link'), s.buf, 16, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(8);
      expect(f.text(s.buf, 9)).toBe('file.txt\0');
    },
  }),
  row({ fn: 'path_readlink', name: 'an absolute target, verbatim', call: (f) => readlink(f, 'abs').errno, errno: 'SUCCESS', effect: (f) => expect(f.u32(out)).toBe(9) }),
  row({
    fn: 'path_readlink',
    name: 'a 4-byte buffer: the target is cut, as readlink(2) does',
    setup: (f) => ({ buf: f.alloc(8) }),
    call: (f, s) => f.w.path_readlink(rootFd, ...f.str('link'), s.buf, 4, out),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(4);
      expect(f.text(s.buf, 5)).toBe('file\0');
    },
  }),
  row({ fn: 'path_readlink', name: 'a symlink reached through another one', setup: (f) => void f.w.path_symlink(...f.str('x'), rootFd, ...f.str('dir/l')), call: (f) => readlink(f, 'dirlink/l').errno, errno: 'SUCCESS', effect: (f) => expect(f.u32(out)).toBe(1) }),
  row({ fn: 'path_readlink', name: 'a file', call: (f) => readlink(f, 'file.txt').errno, errno: 'EINVAL' }),
  row({ fn: 'path_readlink', name: 'a directory', call: (f) => readlink(f, 'dir').errno, errno: 'EINVAL' }),
  row({ fn: 'path_readlink', name: 'a missing name', call: (f) => readlink(f, 'nope').errno, errno: 'ENOENT' }),
  row({ fn: 'path_readlink', name: 'a directory fd without PATH_READLINK', setup: rootWithout(R.PATH_READLINK), call: (f) => readlink(f, 'link').errno, errno: 'ENOTCAPABLE' }),
  row({ fn: 'path_readlink', name: 'through an fd that is a file', setup: fileFd, call: (f, fd) => readlink(f, 'link', 64, fd).errno, errno: 'ENOTDIR' }),
  row({ fn: 'path_readlink', name: 'unknown fd 99', call: (f) => readlink(f, 'link', 64, badFd).errno, errno: 'EBADF' }),
  row({ fn: 'path_readlink', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_readlink(rootFd, badPtr, 4, 0x2000, 16, out), errno: 'EFAULT' }),
  row({ fn: 'path_readlink', name: 'buffer at 0xFFFFFFF0', call: (f) => f.w.path_readlink(rootFd, ...f.str('link'), badPtr, 16, out), errno: 'EFAULT' }),
  row({ fn: 'path_readlink', name: 'buffer running past the end of memory', call: (f) => f.w.path_readlink(rootFd, ...f.str('link'), memEnd - 4, 16, out), errno: 'EFAULT' }),
  row({ fn: 'path_readlink', name: 'bufused two bytes before the end of memory', call: (f) => f.w.path_readlink(rootFd, ...f.str('link'), 0x2000, 16, tail), errno: 'EFAULT' }),
];

// --- path_remove_directory ------------------------------------------------------------

const rmdir = (f: Fixture, path: string | Uint8Array, dir = rootFd) => f.w.path_remove_directory(dir, ...f.str(path));

const rmdirCases: Case[] = [
  row({ fn: 'path_remove_directory', name: 'an empty directory', call: (f) => rmdir(f, 'dir'), errno: 'SUCCESS', effect: (f) => expect(f.node('dir')).toBeUndefined() }),
  row({ fn: 'path_remove_directory', name: 'with a trailing slash', call: (f) => rmdir(f, 'dir/'), errno: 'SUCCESS', effect: (f) => expect(f.node('dir')).toBeUndefined() }),
  row({
    fn: 'path_remove_directory',
    name: 'while open: the fd stays valid, but nothing can be created in it',
    setup: (f) => f.openDir('dir'),
    call: (f) => rmdir(f, 'dir'),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      expect(errnoName(f.openAt('new', { dir: fd, oflags: OFlags.CREAT }))).toBe('ENOENT');
      expect(errnoName(mkdir(f, 'sub', fd))).toBe('ENOENT');
      expect(f.filestatOf(fd).nlink).toBe(0n);
    },
  }),
  row({ fn: 'path_remove_directory', name: 'a directory with a file in it', call: (f) => rmdir(f, 'full'), errno: 'ENOTEMPTY', effect: (f) => expect(f.node('full')?.type).toBe('directory') }),
  row({ fn: 'path_remove_directory', name: "'..' from a subdirectory", setup: (f) => f.openDir('dir'), call: (f, dir) => rmdir(f, '..', dir), errno: 'EPERM' }),
  row({ fn: 'path_remove_directory', name: "'dir/..' (the fd itself, not empty)", call: (f) => rmdir(f, 'dir/..'), errno: 'ENOTEMPTY' }),
  // Linux: rmdir(".") is EINVAL in every directory, the root included; only rmdir("/") is EBUSY.
  row({ fn: 'path_remove_directory', name: "'.' of the root fd", call: (f) => rmdir(f, '.'), errno: 'EINVAL' }),
  row({ fn: 'path_remove_directory', name: "'/' (an absolute path)", call: (f) => rmdir(f, '/'), errno: 'EPERM' }),
  row({ fn: 'path_remove_directory', name: "'.' of a subdirectory fd", setup: (f) => f.openDir('dir'), call: (f, dir) => rmdir(f, '.', dir), errno: 'EINVAL', effect: (f) => expect(f.node('dir')?.type).toBe('directory') }),
  row({ fn: 'path_remove_directory', name: "'dir/.'", call: (f) => rmdir(f, 'dir/.'), errno: 'EINVAL', effect: (f) => expect(f.node('dir')?.type).toBe('directory') }),
  row({ fn: 'path_remove_directory', name: 'a file', call: (f) => rmdir(f, 'file.txt'), errno: 'ENOTDIR' }),
  row({ fn: 'path_remove_directory', name: 'a symlink to a directory', call: (f) => rmdir(f, 'dirlink'), errno: 'ENOTDIR', effect: (f) => expect(f.node('dir')?.type).toBe('directory') }),
  row({ fn: 'path_remove_directory', name: 'through an fd that is a file', setup: fileFd, call: (f, fd) => rmdir(f, 'x', fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_remove_directory', name: 'a missing name', call: (f) => rmdir(f, 'nope'), errno: 'ENOENT' }),
  row({ fn: 'path_remove_directory', name: 'a directory fd without PATH_REMOVE_DIRECTORY', setup: rootWithout(R.PATH_REMOVE_DIRECTORY), call: (f) => rmdir(f, 'dir'), errno: 'ENOTCAPABLE', effect: (f) => expect(f.node('dir')?.type).toBe('directory') }),
  row({ fn: 'path_remove_directory', name: 'unknown fd 99', call: (f) => rmdir(f, 'dir', badFd), errno: 'EBADF' }),
  row({ fn: 'path_remove_directory', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_remove_directory(rootFd, badPtr, 3), errno: 'EFAULT' }),
];

// --- path_rename ------------------------------------------------------------------------

const rename = (f: Fixture, from: string, to: string, oldFd = rootFd, newFd = rootFd) => f.w.path_rename(oldFd, ...f.str(from), newFd, ...f.str(to));

const renameCases: Case[] = [
  row({
    fn: 'path_rename',
    name: 'a file to a new name: same inode, old name gone',
    setup: (f) => f.ino('file.txt'),
    call: (f) => rename(f, 'file.txt', 'dir/moved'),
    errno: 'SUCCESS',
    effect: (f, ino) => {
      expect(f.node('file.txt')).toBeUndefined();
      expect(f.ino('dir/moved')).toBe(ino);
    },
  }),
  row({
    fn: 'path_rename',
    name: 'over an existing file: replaced at once; an fd on the old one still reads it',
    setup: (f) => f.open('full/a.txt'),
    call: (f) => rename(f, 'file.txt', 'full/a.txt'),
    errno: 'SUCCESS',
    effect: (f, fd) => {
      expect(f.contents('full/a.txt')).toBe('hello world');
      expect(f.node('file.txt')).toBeUndefined();
      expect(f.read(fd)).toBe('A');
    },
  }),
  row({
    fn: 'path_rename',
    name: 'a directory with its contents',
    call: (f) => rename(f, 'full', 'dir/full2'),
    errno: 'SUCCESS',
    effect: (f) => expect(f.contents('dir/full2/a.txt')).toBe('A'),
  }),
  row({ fn: 'path_rename', name: 'a directory over an empty one', call: (f) => rename(f, 'full', 'dir'), errno: 'SUCCESS', effect: (f) => expect(f.contents('dir/a.txt')).toBe('A') }),
  row({ fn: 'path_rename', name: 'a symlink: the link moves, not its target', call: (f) => rename(f, 'link', 'dir/link'), errno: 'SUCCESS', effect: (f) => expect([f.node('dir/link')?.type, f.contents('file.txt')]).toEqual(['symlink', 'hello world']) }),
  row({
    fn: 'path_rename',
    name: 'onto another name of the same file: nothing happens',
    setup: (f) => void link(f, 'file.txt', 'hard'),
    call: (f) => rename(f, 'file.txt', 'hard'),
    errno: 'SUCCESS',
    effect: (f) => expect([f.node('file.txt')?.type, f.node('hard')?.type]).toEqual(['file', 'file']),
  }),
  row({ fn: 'path_rename', name: 'between two directory fds', setup: (f) => f.openDir('dir'), call: (f, dir) => rename(f, 'file.txt', 'moved', rootFd, dir), errno: 'SUCCESS', effect: (f) => expect(f.contents('dir/moved')).toBe('hello world') }),
  row({ fn: 'path_rename', name: 'a missing source', call: (f) => rename(f, 'nope', 'x'), errno: 'ENOENT' }),
  row({ fn: 'path_rename', name: 'into a missing directory', call: (f) => rename(f, 'file.txt', 'nope/x'), errno: 'ENOENT', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_rename', name: 'a file over a directory', call: (f) => rename(f, 'file.txt', 'dir'), errno: 'EISDIR' }),
  row({ fn: 'path_rename', name: 'a directory over a file', call: (f) => rename(f, 'dir', 'file.txt'), errno: 'ENOTDIR', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_rename', name: 'a file named with a trailing slash', call: (f) => rename(f, 'file.txt/', 'x'), errno: 'ENOTDIR' }),
  row({ fn: 'path_rename', name: 'a directory over a non-empty one', call: (f) => rename(f, 'dir', 'full'), errno: 'ENOTEMPTY', effect: (f) => expect(f.contents('full/a.txt')).toBe('A') }),
  row({ fn: 'path_rename', name: 'a directory into itself', call: (f) => rename(f, 'full', 'full/sub'), errno: 'EINVAL', effect: (f) => expect(f.node('full')?.type).toBe('directory') }),
  row({ fn: 'path_rename', name: 'source fd without PATH_RENAME_SOURCE', setup: rootWithout(R.PATH_RENAME_SOURCE), call: (f) => rename(f, 'file.txt', 'x'), errno: 'ENOTCAPABLE' }),
  row({ fn: 'path_rename', name: 'target fd without PATH_RENAME_TARGET', setup: (f) => f.openDir('dir', { rights: dirRightsWithout(R.PATH_RENAME_TARGET) }), call: (f, dir) => rename(f, 'file.txt', 'x', rootFd, dir), errno: 'ENOTCAPABLE', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_rename', name: 'target fd that is a file', setup: fileFd, call: (f, fd) => rename(f, 'file.txt', 'x', rootFd, fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_rename', name: 'unknown source fd 99', call: (f) => rename(f, 'file.txt', 'x', badFd), errno: 'EBADF' }),
  row({ fn: 'path_rename', name: 'unknown target fd 99', call: (f) => rename(f, 'file.txt', 'x', rootFd, badFd), errno: 'EBADF' }),
  row({ fn: 'path_rename', name: 'source path at 0xFFFFFFF0', call: (f) => f.w.path_rename(rootFd, badPtr, 4, rootFd, ...f.str('x')), errno: 'EFAULT' }),
  row({ fn: 'path_rename', name: 'target path at 0xFFFFFFF0', call: (f) => f.w.path_rename(rootFd, ...f.str('file.txt'), rootFd, badPtr, 4), errno: 'EFAULT', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
];

// --- path_symlink ---------------------------------------------------------------------

const symlink = (f: Fixture, target: string | Uint8Array, path: string, dir = rootFd) => f.w.path_symlink(...f.str(target), dir, ...f.str(path));

const symlinkCases: Case[] = [
  row({ fn: 'path_symlink', name: 'a relative target, dangling', call: (f) => symlink(f, 'no/such/thing', 'dir/l'), errno: 'SUCCESS', effect: (f) => expect(f.ns.readlink(f.ns.root, 'dir/l')).toBe('no/such/thing') }),
  row({ fn: 'path_symlink', name: 'an absolute target: nothing is made', call: (f) => symlink(f, '/full/a.txt', 'dir/l'), errno: 'EPERM', effect: (f) => expect(f.node('dir/l')).toBeUndefined() }),
  row({ fn: 'path_symlink', name: "a target of '/': nothing is made", call: (f) => symlink(f, '/', 'l'), errno: 'EPERM', effect: (f) => expect(f.node('l')).toBeUndefined() }),
  row({ fn: 'path_symlink', name: "a target of '..'s, resolved inside the root", call: (f) => symlink(f, '../../../../file.txt', 'dir/l'), errno: 'SUCCESS', effect: (f) => expect(f.contents('dir/l')).toBe('hello world') }),
  row({ fn: 'path_symlink', name: 'over an existing file', call: (f) => symlink(f, 'x', 'file.txt'), errno: 'EEXIST', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_symlink', name: 'over a dangling symlink', call: (f) => symlink(f, 'x', 'dangling'), errno: 'EEXIST' }),
  row({ fn: 'path_symlink', name: 'over a directory', call: (f) => symlink(f, 'x', 'dir'), errno: 'EEXIST' }),
  row({ fn: 'path_symlink', name: 'an empty target', call: (f) => symlink(f, '', 'l'), errno: 'ENOENT', effect: (f) => expect(f.node('l')).toBeUndefined() }),
  row({ fn: 'path_symlink', name: 'in a missing directory', call: (f) => symlink(f, 'x', 'nope/l'), errno: 'ENOENT' }),
  row({
    fn: 'path_symlink',
    name: 'a 200-byte target in a 100-byte tmpfs: nothing is made',
    options: { empty: true, limits: { maxBytes: 100 } },
    call: (f) => symlink(f, 'x'.repeat(200), 'l'),
    errno: 'ENOSPC',
    effect: (f) => expect([f.node('l'), f.fs.usage]).toEqual([undefined, { bytes: 0, inodes: 1 }]),
  }),
  row({ fn: 'path_symlink', name: 'past maxInodes 2', options: { empty: true, limits: { maxInodes: 2 } }, setup: (f) => symlink(f, 'a', 'a'), call: (f) => symlink(f, 'b', 'b'), errno: 'ENOSPC', effect: (f) => expect(f.node('b')).toBeUndefined() }),
  row({ fn: 'path_symlink', name: 'a target that is not UTF-8', call: (f) => symlink(f, invalidUtf8, 'l'), errno: 'EILSEQ' }),
  row({ fn: 'path_symlink', name: 'a directory fd without PATH_SYMLINK', setup: rootWithout(R.PATH_SYMLINK), call: (f) => symlink(f, 'x', 'l'), errno: 'ENOTCAPABLE', effect: (f) => expect(f.node('l')).toBeUndefined() }),
  row({ fn: 'path_symlink', name: 'through an fd that is a file', setup: fileFd, call: (f, fd) => symlink(f, 'x', 'l', fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_symlink', name: 'unknown fd 99', call: (f) => symlink(f, 'x', 'l', badFd), errno: 'EBADF' }),
  row({ fn: 'path_symlink', name: 'target at 0xFFFFFFF0', call: (f) => f.w.path_symlink(badPtr, 4, rootFd, ...f.str('l')), errno: 'EFAULT', effect: (f) => expect(f.node('l')).toBeUndefined() }),
  row({ fn: 'path_symlink', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_symlink(...f.str('x'), rootFd, badPtr, 4), errno: 'EFAULT' }),
];

// --- path_unlink_file -------------------------------------------------------------------

const unlink = (f: Fixture, path: string, dir = rootFd) => f.w.path_unlink_file(dir, ...f.str(path));

const unlinkCases: Case[] = [
  row({ fn: 'path_unlink_file', name: 'a file', call: (f) => unlink(f, 'file.txt'), errno: 'SUCCESS', effect: (f) => expect(f.node('file.txt')).toBeUndefined() }),
  row({ fn: 'path_unlink_file', name: 'a symlink: the link goes, its target stays', call: (f) => unlink(f, 'link'), errno: 'SUCCESS', effect: (f) => expect([f.node('link'), f.contents('file.txt')]).toEqual([undefined, 'hello world']) }),
  row({ fn: 'path_unlink_file', name: 'a dangling symlink', call: (f) => unlink(f, 'dangling'), errno: 'SUCCESS', effect: (f) => expect(f.node('dangling')).toBeUndefined() }),
  row({
    fn: 'path_unlink_file',
    name: 'one of two hard links: the other keeps the data, with 1 link',
    setup: (f) => void link(f, 'file.txt', 'hard'),
    call: (f) => unlink(f, 'file.txt'),
    errno: 'SUCCESS',
    effect: (f) => {
      expect(f.contents('hard')).toBe('hello world');
      expect(f.ns.resolve(f.ns.root, 'hard', false, 'test').stat().nlink).toBe(1);
    },
  }),
  row({
    fn: 'path_unlink_file',
    name: 'while open: still readable and writable through the fd, freed on close',
    setup: (f) => ({ fd: f.open('file.txt'), before: f.fs.usage }),
    call: (f) => unlink(f, 'file.txt'),
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.node('file.txt')).toBeUndefined();
      expect(f.read(s.fd)).toBe('hello world');
      expect(f.write(s.fd, '!!')).toBe(2);
      expect(f.pread(s.fd)).toBe('hello world!!');
      expect(f.filestatOf(s.fd)).toMatchObject({ nlink: 0n, size: 13n });
      expect(f.fs.usage).toEqual({ bytes: s.before.bytes + 2, inodes: s.before.inodes });
      expect(f.w.fd_close(s.fd)).toBe(0);
      expect(f.fs.usage).toEqual({ bytes: s.before.bytes - 11, inodes: s.before.inodes - 1 });
    },
  }),
  row({ fn: 'path_unlink_file', name: 'a directory', call: (f) => unlink(f, 'dir'), errno: 'EISDIR', effect: (f) => expect(f.node('dir')?.type).toBe('directory') }),
  row({ fn: 'path_unlink_file', name: "'.'", call: (f) => unlink(f, '.'), errno: 'EISDIR' }),
  row({ fn: 'path_unlink_file', name: 'a file named with a trailing slash', call: (f) => unlink(f, 'file.txt/'), errno: 'ENOTDIR', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_unlink_file', name: 'under a file', call: (f) => unlink(f, 'file.txt/x'), errno: 'ENOTDIR' }),
  row({ fn: 'path_unlink_file', name: 'through an fd that is a file', setup: fileFd, call: (f, fd) => unlink(f, 'x', fd), errno: 'ENOTDIR' }),
  row({ fn: 'path_unlink_file', name: 'a missing name', call: (f) => unlink(f, 'nope'), errno: 'ENOENT' }),
  row({ fn: 'path_unlink_file', name: 'a directory fd without PATH_UNLINK_FILE', setup: rootWithout(R.PATH_UNLINK_FILE), call: (f) => unlink(f, 'file.txt'), errno: 'ENOTCAPABLE', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
  row({ fn: 'path_unlink_file', name: 'unknown fd 99', call: (f) => unlink(f, 'file.txt', badFd), errno: 'EBADF' }),
  row({ fn: 'path_unlink_file', name: 'a closed directory fd', setup: closedDir, call: (f, fd) => unlink(f, 'x', fd), errno: 'EBADF' }),
  row({ fn: 'path_unlink_file', name: 'path at 0xFFFFFFF0', call: (f) => f.w.path_unlink_file(rootFd, badPtr, 8), errno: 'EFAULT', effect: (f) => expect(f.contents('file.txt')).toBe('hello world') }),
];

// --- WASI's path rules, the same for every call ----------------------------------
// A path argument is relative to its directory fd: an absolute one, or one
// whose '..' climbs above the fd, fails with EPERM before anything changes
// (docs/decisions.md). Each call is tried from the subdirectory fd `full`,
// under which `a.txt` exists, so only the rule can refuse it; the effect
// checks that the tree is untouched.

/** Every name in the tree with its kind, inode, size and times: equal before and after means untouched. */
function treeOf(f: Fixture): string[] {
  const out: string[] = [];
  const walk = (dir: DirNode, prefix: string): void =>
    dir.readdir(2, (e) => {
      const node = dir.lookup(e.name);
      if (node === undefined) return true;
      const st = node.stat();
      out.push(`${prefix}${e.name} ${st.type} ${st.ino} ${st.size} ${st.atimeNs} ${st.mtimeNs}`);
      if (node.type === 'directory') walk(node, `${prefix}${e.name}/`);
      return true;
    });
  walk(f.ns.root, '/');
  return out;
}

/** Each path argument of each call, as (name, call with that argument set to `p`, the rest valid). */
const pathArguments: [string, (f: Fixture, p: string, full: number) => number][] = [
  ['path_open', (f, p, full) => f.openAt(p, { dir: full, oflags: OFlags.CREAT })],
  ['path_create_directory', (f, p, full) => mkdir(f, p, full)],
  ['path_filestat_get', (f, p, full) => stat(f, p, follow, full)],
  ['path_filestat_set_times', (f, p, full) => utimes(f, p, 1n, 1n, FstFlags.ATIM, follow, full)],
  ['path_link', (f, p, full) => link(f, p, 'hard', 0, full, full)],
  ['path_link', (f, p, full) => link(f, 'a.txt', p, 0, full, full)],
  ['path_readlink', (f, p, full) => readlink(f, p, 64, full).errno],
  ['path_remove_directory', (f, p, full) => rmdir(f, p, full)],
  ['path_rename', (f, p, full) => rename(f, p, 'moved', full, full)],
  ['path_rename', (f, p, full) => rename(f, 'a.txt', p, full, full)],
  ['path_symlink', (f, p, full) => symlink(f, 'a.txt', p, full)],
  ['path_unlink_file', (f, p, full) => unlink(f, p, full)],
];
const escapingPaths: [string, string][] = [
  ['an absolute path', '/full/a.txt'],
  ["'..' above the fd", '../full/a.txt'],
  ["'..' above the fd after going down", 'x/../../full/a.txt'],
  ["'..' above the fd, in the middle of dots and slashes", './/..//full/a.txt'],
];
const ruleCases: Case[] = pathArguments.flatMap(([fn, call], i) =>
  escapingPaths.map(([what, p]) =>
    row({
      fn: fn as Case['fn'],
      name: `${what} (argument ${i})`,
      setup: (f) => ({ full: f.openDir('full'), before: treeOf(f) }),
      call: (f, s) => call(f, p, s.full),
      errno: 'EPERM',
      effect: (f, s) => expect(treeOf(f)).toEqual(s.before),
    }),
  ),
);

const cases = [
  ...ruleCases,
  ...openCases,
  ...mkdirCases,
  ...statCases,
  ...setTimesCases,
  ...linkCases,
  ...readlinkCases,
  ...rmdirCases,
  ...renameCases,
  ...symlinkCases,
  ...unlinkCases,
];

describe('path calls', () => {
  runCases(cases);
  checkCoverage('path', cases);

});
