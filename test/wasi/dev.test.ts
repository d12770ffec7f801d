import { describe, expect, it } from 'vitest';
import { devNames, mountDev, Namespace } from '../../src/vfs/index.js';
import { Filetype, fileRights, OFlags, Rights as R, Whence } from '../../src/wasi/abi.js';
import { deviceRights } from '../../src/wasi/descriptor.js';
import { Fixture, out, rootFd, type FixtureOptions } from './harness.js';

/** A process whose namespace has /dev mounted (dev 2). */
function withDev(options: FixtureOptions = {}): Fixture {
  return new Fixture({
    ...options,
    namespace: (root) => {
      const ns = new Namespace(root);
      mountDev(ns, 2n);
      return ns;
    },
  });
}

const rw = R.FD_READ | R.FD_WRITE;

/** Bytes read by one fd_read of `len` bytes, and the errno. */
function readRaw(f: Fixture, fd: number, len: number): { errno: number; bytes: Uint8Array } {
  const { iovs, bufs } = f.iovs(len);
  f.u8.fill(0xaa, bufs[0]!, bufs[0]! + len);
  const n = f.alloc(4);
  const errno = f.w.fd_read(fd, ...iovs, n);
  return { errno, bytes: f.bytes(bufs[0]!, errno === 0 ? f.u32(n) : 0) };
}

function writeRaw(f: Fixture, fd: number, data: string): { errno: number; n: number } {
  const n = f.alloc(4);
  const errno = f.w.fd_write(fd, ...f.ciovs(data), n);
  return { errno, n: errno === 0 ? f.u32(n) : -1 };
}

describe('/dev through the WASI layer', () => {
  it('lists the devices with d_type CHARACTER_DEVICE and d_ino = st_ino', () => {
    const f = withDev();
    const dir = f.openDir('dev');
    const entries = f.list(dir).filter((e) => e.name !== '.' && e.name !== '..');
    expect(entries.map((e) => e.name)).toEqual([...devNames]);
    for (const e of entries) {
      expect(e.type).toBe(Filetype.CHARACTER_DEVICE);
      expect(f.w.path_filestat_get(dir, 0, ...f.str(e.name), out)).toBe(0);
      expect(f.filestat(out)).toMatchObject({ type: Filetype.CHARACTER_DEVICE, ino: e.ino, dev: 2n, size: 0n, nlink: 1n });
    }
    const root = f.list(rootFd).find((e) => e.name === 'dev');
    expect(root?.type).toBe(Filetype.DIRECTORY);
  });

  it('fd_filestat_get and fd_fdstat_get of an open device say character device; it may seek, so isatty is 0', () => {
    const f = withDev();
    const fd = f.open('dev/null', { rights: fileRights });
    expect(f.filestatOf(fd)).toMatchObject({ type: Filetype.CHARACTER_DEVICE, dev: 2n, size: 0n });
    const st = f.fdstatOf(fd);
    expect(st.type).toBe(Filetype.CHARACTER_DEVICE);
    expect(st.base).toBe(BigInt(fileRights & deviceRights));
    expect(st.base & BigInt(R.FD_SEEK)).not.toBe(0n);
  });

  it('/dev/null reads end of file and swallows writes', () => {
    const f = withDev();
    const fd = f.open('dev/null', { rights: rw });
    expect(readRaw(f, fd, 64)).toEqual({ errno: 0, bytes: new Uint8Array(0) });
    expect(writeRaw(f, fd, 'gone')).toEqual({ errno: 0, n: 4 });
  });

  it('/dev/zero reads zeros and swallows writes', () => {
    const f = withDev();
    const fd = f.open('dev/zero', { rights: rw });
    const r = readRaw(f, fd, 300);
    expect(r.errno).toBe(0);
    expect(r.bytes.length).toBe(300);
    expect(r.bytes.every((b) => b === 0)).toBe(true);
    expect(writeRaw(f, fd, 'gone')).toEqual({ errno: 0, n: 4 });
  });

  it('/dev/full reads zeros; a write is ENOSPC', () => {
    const f = withDev();
    const fd = f.open('dev/full', { rights: rw });
    const r = readRaw(f, fd, 16);
    expect(r.bytes).toEqual(new Uint8Array(16));
    expect(writeRaw(f, fd, 'x').errno).toBe(51); // ENOSPC
  });

  for (const name of ['random', 'urandom']) {
    it(`/dev/${name} reads random bytes and ignores writes`, () => {
      const f = withDev();
      const fd = f.open(`dev/${name}`, { rights: rw });
      const a = readRaw(f, fd, 256).bytes.slice();
      const b = readRaw(f, fd, 256).bytes.slice();
      expect(a.length).toBe(256);
      expect(Buffer.compare(a, b)).not.toBe(0);
      expect(new Set(a).size).toBeGreaterThan(64);
      expect(writeRaw(f, fd, 'entropy?')).toEqual({ errno: 0, n: 8 });
    });
  }

  it('seeks on a device land at 0, fd_tell says 0, pread/pwrite ignore the offset', () => {
    const f = withDev();
    const fd = f.open('dev/zero', { rights: rw | R.FD_SEEK | R.FD_TELL });
    for (const [offset, whence] of [[100n, Whence.SET], [-5n, Whence.CUR], [7n, Whence.END]] as const) {
      f.dv.setBigUint64(out, 99n, true);
      expect(f.w.fd_seek(fd, offset, whence, out)).toBe(0);
      expect(f.u64(out)).toBe(0n);
    }
    expect(f.tell(fd)).toBe(0);
    expect(f.pread(fd, 1 << 20, 8)).toBe('\0'.repeat(8));
    const n = f.alloc(4);
    expect(f.w.fd_pwrite(fd, ...f.ciovs('abc'), 12n, n)).toBe(0);
    expect(f.u32(n)).toBe(3);
  });

  it('without FD_SEEK a device refuses to seek (ENOTCAPABLE), and a bad pointer is EFAULT', () => {
    const f = withDev();
    const fd = f.open('dev/null', { rights: R.FD_READ });
    expect(f.w.fd_seek(fd, 0n, Whence.SET, out)).toBe(76);
    const fd2 = f.open('dev/null', { rights: R.FD_READ | R.FD_SEEK });
    expect(f.w.fd_seek(fd2, 0n, Whence.SET, 0xfffffff0 | 0)).toBe(21);
  });

  it('O_CREAT|O_TRUNC opens the device itself (fopen "w"), not a new file', () => {
    const f = withDev();
    const fd = f.open('dev/null', { oflags: OFlags.CREAT | OFlags.TRUNC, rights: R.FD_WRITE });
    expect(f.fdstatOf(fd).type).toBe(Filetype.CHARACTER_DEVICE);
    expect(writeRaw(f, fd, 'x').n).toBe(1);
    expect(f.openAt('dev/null', { oflags: OFlags.CREAT | OFlags.EXCL })).toBe(20); // EEXIST
    expect(f.openAt('dev/null', { oflags: OFlags.DIRECTORY })).toBe(54); // ENOTDIR
  });

  it('/dev is read-only in structure: creating, unlinking or renaming in it is EROFS', () => {
    const f = withDev();
    expect(f.openAt('dev/new', { oflags: OFlags.CREAT })).toBe(69);
    expect(f.w.path_unlink_file(rootFd, ...f.str('dev/null'))).toBe(69);
    expect(f.w.path_create_directory(rootFd, ...f.str('dev/shm'))).toBe(69);
    expect(f.w.path_remove_directory(rootFd, ...f.str('dev'))).toBe(10); // EBUSY: a mount point
  });

  it('/dev/stdout writes to the process\'s stdout, /dev/stderr to its stderr', () => {
    const f = withDev();
    const o = f.open('dev/stdout', { rights: R.FD_WRITE });
    const e = f.open('dev/stderr', { rights: R.FD_WRITE });
    expect(writeRaw(f, o, 'to stdout').n).toBe(9);
    expect(writeRaw(f, e, 'to stderr').n).toBe(9);
    expect(f.stdout).toBe('to stdout');
    expect(f.stderr).toBe('to stderr');
  });

  it('/dev/stdin reads the process\'s stdin, sharing its stream', () => {
    const f = withDev({ stdin: 'abcdef' });
    const fd = f.open('dev/stdin', { rights: R.FD_READ });
    expect(f.read(fd, 3)).toBe('abc');
    expect(f.read(0, 3)).toBe('def');
  });

  it('a stdio device keeps the stream\'s kind and never gains a right: no seek, tty only if the stream is one', () => {
    for (const tty of [false, true]) {
      const f = withDev({ tty: { stdout: tty } });
      const fd = f.open('dev/stdout', { rights: fileRights });
      const st = f.fdstatOf(fd);
      expect(st.type).toBe(tty ? Filetype.CHARACTER_DEVICE : Filetype.UNKNOWN);
      expect(st.base).toBe(f.fdstatOf(1).base & BigInt(fileRights));
      expect(st.base & BigInt(R.FD_SEEK | R.FD_TELL | R.FD_READ)).toBe(0n);
      expect(f.w.fd_seek(fd, 0n, Whence.SET, out)).toBe(70); // ESPIPE, as for a pipe or tty
    }
  });

  it('/dev/stdout reopens what fd 1 is now: a file renumbered onto it, or ENOENT once it is closed', () => {
    const f = withDev();
    const file = f.open('file.txt', { rights: fileRights });
    expect(f.w.fd_renumber(file, 1)).toBe(0);
    const fd = f.open('dev/stdout', { rights: R.FD_READ | R.FD_SEEK });
    expect(f.fdstatOf(fd).type).toBe(Filetype.REGULAR_FILE);
    expect(f.read(fd, 5)).toBe('hello'); // its own position, as a reopen on Linux
    expect(f.w.fd_close(1)).toBe(0);
    expect(f.openAt('dev/stdout', { rights: R.FD_WRITE })).toBe(44); // ENOENT
  });
});
