import type { Stat } from '../vfs/index.js';
import { allFdFlags, FdFlags, Filetype, filetypeCode, FstFlags, Layout, maxAdvice, PreopenType, Rights as R, Whence } from './abi.js';
import type { WasiContext } from './context.js';
import { DeviceDescriptor, DirectoryDescriptor, FileDescriptor, StreamDescriptor, type Descriptor } from './descriptor.js';
import { DirentScratch } from './dirent.js';
import { wasiError } from './errno.js';
import { utf8Bytes, type GuestMemory } from './memory.js';

/** IOV_MAX: most iovecs in one read or write call (EINVAL past it, as readv(2) says). */
export const maxIovecs = 1024;

/** Largest file offset a guest may ask for (fits a double exactly). */
const maxOffset = Number.MAX_SAFE_INTEGER;

/**
 * File-descriptor calls: the 21 `fd_*` functions of preview1.
 *
 * Each checks, in order: the fd exists (EBADF), it is the right kind
 * (EISDIR, ENOTDIR, ESPIPE), it holds the rights the call needs
 * (ENOTCAPABLE), the guest's pointers (EFAULT), then the operation's own errors.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md
 */
export function fdSyscalls(ctx: WasiContext) {
  // Made by the first fd_readdir: most processes never list a directory.
  let direntScratch: DirentScratch | undefined;
  return {
    /** Advice is accepted and ignored: everything is in memory. Errors: EBADF, ENOTCAPABLE, EINVAL. */
    fd_advise(fd: number, _offset: bigint, len: bigint, advice: number): number {
      ctx.fd(fd, R.FD_ADVISE);
      // i64 arguments arrive signed: a length past 2^63 is negative, as in posix_fadvise.
      if (advice < 0 || advice > maxAdvice || len < 0n) throw wasiError('EINVAL');
      return 0;
    },

    /** Grow the file to at least offset+len. Errors: EBADF, EISDIR, ESPIPE, ENOTCAPABLE, EINVAL, EFBIG, ENOSPC. */
    fd_allocate(fd: number, offset: bigint, len: bigint): number {
      const f = ctx.file(fd, R.FD_ALLOCATE);
      if (offset < 0n || len < 0n) throw wasiError('EINVAL');
      const end = offset + len;
      if (end > BigInt(maxOffset)) throw wasiError('EFBIG');
      if (Number(end) > f.node.size) f.node.truncate(Number(end));
      return 0;
    },

    /** Errors: EBADF. */
    fd_close(fd: number): number {
      ctx.fds.close(fd);
      return 0;
    },

    /** In-memory data is always durable for the process. Errors: EBADF, ENOTCAPABLE. */
    fd_datasync(fd: number): number {
      ctx.fd(fd, R.FD_DATASYNC);
      return 0;
    },

    /** Errors: EBADF, EFAULT. */
    fd_fdstat_get(fd: number, buf: number): number {
      const d = ctx.fds.get(fd);
      const mem = ctx.memory;
      const p = mem.check(buf, Layout.fdstatSize);
      mem.u8.fill(0, p, p + Layout.fdstatSize);
      mem.setU8(p, d.filetype);
      mem.setU16(p + 2, d.fdflags);
      mem.setU64n(p + 8, d.rightsBase);
      mem.setU64n(p + 16, d.rightsInheriting);
      return 0;
    },

    /** Only APPEND and NONBLOCK can change; the sync flags are accepted. Errors: EBADF, ENOTCAPABLE, EINVAL. */
    fd_fdstat_set_flags(fd: number, flags: number): number {
      const d = ctx.fd(fd, R.FD_FDSTAT_SET_FLAGS);
      if ((flags & ~allFdFlags) !== 0) throw wasiError('EINVAL');
      d.fdflags = flags;
      return 0;
    },

    /** Rights can only be dropped. Errors: EBADF, ENOTCAPABLE (adding a right). */
    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): number {
      const d = ctx.fds.get(fd);
      const b = Number(base & 0x3fffffffn);
      const i = Number(inheriting & 0x3fffffffn);
      if ((b & ~d.rightsBase) !== 0 || (i & ~d.rightsInheriting) !== 0) throw wasiError('ENOTCAPABLE');
      d.rightsBase = b;
      d.rightsInheriting = i;
      return 0;
    },

    /** Errors: EBADF, ENOTCAPABLE, EFAULT. */
    fd_filestat_get(fd: number, buf: number): number {
      const d = ctx.fd(fd, R.FD_FILESTAT_GET);
      writeFilestat(ctx.memory, buf, statOf(d));
      return 0;
    },

    /**
     * Errors: EBADF, EISDIR, ESPIPE, EINVAL (not open for writing, or a
     * negative size), EFBIG, ENOSPC. A file opened read-only lacks
     * FD_FILESTAT_SET_SIZE; POSIX ftruncate says EINVAL for that, and a C
     * program cannot make sense of ENOTCAPABLE, so EINVAL it is.
     */
    fd_filestat_set_size(fd: number, size: bigint): number {
      const f = ctx.file(fd, 0);
      if ((f.rightsBase & R.FD_FILESTAT_SET_SIZE) === 0) throw wasiError('EINVAL');
      if (size < 0n) throw wasiError('EINVAL');
      if (size > BigInt(maxOffset)) throw wasiError('EFBIG');
      f.node.truncate(Number(size));
      return 0;
    },

    /** Errors: EBADF, ENOTCAPABLE, EINVAL (both a time and _NOW). */
    fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, flags: number): number {
      const d = ctx.fd(fd, R.FD_FILESTAT_SET_TIMES);
      const node = nodeOf(d);
      const [a, m] = timeChanges(atim, mtim, flags);
      node.setTimes(a, m);
      return 0;
    },

    /** Errors: EBADF, ENOTCAPABLE, EISDIR, ESPIPE, EINVAL, EFAULT. */
    fd_pread(fd: number, iovs: number, iovsLen: number, offset: bigint, nread: number): number {
      const f = positional(ctx, fd, R.FD_READ | R.FD_SEEK);
      const mem = ctx.memory;
      mem.check(iovs, iovsLen * Layout.iovecSize);
      if (iovsLen >>> 0 > maxIovecs) throw wasiError('EINVAL');
      let pos = positionOf(offset);
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const buf = mem.u32(iovs + i * 8);
        const len = mem.u32(iovs + i * 8 + 4);
        const p = mem.check(buf, len);
        const n = f instanceof DeviceDescriptor ? f.read(mem.u8, p, len) : f.node.read(mem.u8, p, len, pos);
        pos += n;
        total += n;
        if (n < len) break;
      }
      mem.setU32(nread, total);
      return 0;
    },

    /** Errors: EBADF (not a preopen), EFAULT. */
    fd_prestat_get(fd: number, buf: number): number {
      const name = preopenName(ctx, fd);
      const mem = ctx.memory;
      const p = mem.check(buf, Layout.prestatSize);
      mem.u8.fill(0, p, p + Layout.prestatSize);
      mem.setU8(p, PreopenType.DIR);
      mem.setU32(p + 4, name.length);
      return 0;
    },

    /** Errors: EBADF (not a preopen), ENAMETOOLONG (buffer too small), EFAULT. */
    fd_prestat_dir_name(fd: number, path: number, pathLen: number): number {
      const name = preopenName(ctx, fd);
      if ((pathLen >>> 0) < name.length) throw wasiError('ENAMETOOLONG');
      ctx.memory.write(path, name);
      return 0;
    },

    /** Errors: EBADF, ENOTCAPABLE, EISDIR, ESPIPE, EFAULT, EFBIG, ENOSPC. */
    fd_pwrite(fd: number, iovs: number, iovsLen: number, offset: bigint, nwritten: number): number {
      const f = positional(ctx, fd, R.FD_WRITE | R.FD_SEEK);
      const mem = ctx.memory;
      mem.check(iovs, iovsLen * Layout.iovecSize);
      if (iovsLen >>> 0 > maxIovecs) throw wasiError('EINVAL');
      let pos = positionOf(offset);
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const buf = mem.u32(iovs + i * 8);
        const len = mem.u32(iovs + i * 8 + 4);
        const p = mem.check(buf, len);
        pos += f instanceof DeviceDescriptor ? f.write(mem.u8, p, len) : f.node.write(mem.u8, p, len, pos);
        total += len;
      }
      mem.setU32(nwritten, total);
      return 0;
    },

    /** Errors: EBADF, EISDIR, ENOTCAPABLE, EFAULT. */
    fd_read(fd: number, iovs: number, iovsLen: number, nread: number): number {
      const d = ctx.fds.get(fd);
      // Before the rights: a directory never holds FD_READ, and read(2) on one says EISDIR.
      if (d instanceof DirectoryDescriptor) throw wasiError('EISDIR');
      if ((d.rightsBase & R.FD_READ) === 0) throw wasiError('ENOTCAPABLE');
      const mem = ctx.memory;
      mem.check(iovs, iovsLen * Layout.iovecSize);
      if (iovsLen >>> 0 > maxIovecs) throw wasiError('EINVAL');
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const buf = mem.u32(iovs + i * 8);
        const len = mem.u32(iovs + i * 8 + 4);
        const p = mem.check(buf, len);
        const n = d.read(mem.u8, p, len);
        total += n;
        if (n < len) break;
      }
      mem.setU32(nread, total);
      return 0;
    },

    /**
     * Fill `buf` with dirents from `cookie`; a last entry that does not fit is
     * truncated and `bufused` equals `bufLen`, telling the guest to retry
     * with a larger buffer. Errors: EBADF, ENOTCAPABLE, ENOTDIR, EFAULT.
     */
    fd_readdir(fd: number, buf: number, bufLen: number, cookie: bigint, bufused: number): number {
      const d = ctx.fds.get(fd);
      if (!(d instanceof DirectoryDescriptor)) throw wasiError('ENOTDIR');
      if ((d.rightsBase & R.FD_READDIR) === 0) throw wasiError('ENOTCAPABLE');
      const mem = ctx.memory;
      const start = mem.check(buf, bufLen);
      const end = start + (bufLen >>> 0);
      mem.check(bufused, 4);
      let at = start;
      // A cookie past 2^63 arrives negative; like one past the end, it lists nothing.
      const from = Number(cookie);
      if (from >= 0 && from <= maxOffset) {
        const scratch = (direntScratch ??= new DirentScratch());
        ctx.namespace.readdir(d.node, from, (entry) => {
          at += scratch.write(mem, at, end, entry);
          return at < end;
        });
      }
      mem.setU32(bufused, at - start);
      return 0;
    },

    /** Errors: EBADF (either fd). */
    fd_renumber(from: number, to: number): number {
      ctx.fds.renumber(from, to);
      return 0;
    },

    /**
     * Errors: EBADF, ENOTCAPABLE, ESPIPE (a stream or directory), EINVAL (bad
     * whence or negative result), EFAULT. A device has no position: every
     * seek lands at 0, as Linux's lseek on /dev/null or /dev/zero does.
     */
    fd_seek(fd: number, offset: bigint, whence: number, newOffset: number): number {
      // As a double: exact below 2^53, and past it still beyond every bound checked below.
      const delta = Number(offset);
      const f = positional(ctx, fd, delta === 0 && whence === Whence.CUR ? R.FD_TELL : R.FD_SEEK);
      const mem = ctx.memory;
      if (f instanceof DeviceDescriptor) {
        mem.setU64n(newOffset, 0);
        return 0;
      }
      let base: number;
      if (whence === Whence.SET) base = 0;
      else if (whence === Whence.CUR) base = f.position;
      else if (whence === Whence.END) base = f.node.size;
      else throw wasiError('EINVAL');
      const next = base + delta;
      if (next < 0) throw wasiError('EINVAL');
      if (next > maxOffset) throw wasiError('EOVERFLOW');
      mem.check(newOffset, 8);
      f.position = next;
      mem.setU64n(newOffset, next);
      return 0;
    },

    /** Errors: EBADF, ENOTCAPABLE. */
    fd_sync(fd: number): number {
      ctx.fd(fd, R.FD_SYNC);
      return 0;
    },

    /** Errors: EBADF, ENOTCAPABLE, ESPIPE, EFAULT. */
    fd_tell(fd: number, offset: number): number {
      const f = positional(ctx, fd, R.FD_TELL);
      ctx.memory.setU64n(offset, f instanceof DeviceDescriptor ? 0 : f.position);
      return 0;
    },

    /** Errors: EBADF, ENOTCAPABLE, EISDIR, EFAULT, EFBIG, ENOSPC. */
    fd_write(fd: number, iovs: number, iovsLen: number, nwritten: number): number {
      const d = ctx.fd(fd, R.FD_WRITE);
      if (d instanceof DirectoryDescriptor) throw wasiError('EISDIR');
      const mem = ctx.memory;
      const dv = mem.dv;
      const base = mem.check(iovs, iovsLen * Layout.iovecSize);
      if (iovsLen >>> 0 > maxIovecs) throw wasiError('EINVAL');
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const buf = dv.getUint32(base + i * 8, true);
        const len = dv.getUint32(base + i * 8 + 4, true);
        const p = mem.check(buf, len);
        total += d.write(mem.u8, p, len);
      }
      mem.setU32(nwritten, total);
      return 0;
    },
  };
}

function preopenName(ctx: WasiContext, fd: number): Uint8Array {
  const d = ctx.fds.get(fd);
  if (!(d instanceof DirectoryDescriptor) || d.preopenPath === undefined) throw wasiError('EBADF');
  return utf8Bytes(d.preopenPath);
}

function positionOf(offset: bigint): number {
  // i64 arguments arrive signed: an offset past 2^63 is negative, which pread(2) refuses.
  // As a double, no BigInt arithmetic: exact below 2^53, and past it still above the bound.
  const position = Number(offset);
  if (!(position >= 0 && position <= maxOffset)) throw wasiError('EINVAL');
  return position;
}

function nodeOf(d: Descriptor) {
  if (d instanceof FileDescriptor || d instanceof DirectoryDescriptor || d instanceof DeviceDescriptor) return d.node;
  throw wasiError('EBADF');
}

/**
 * A descriptor with an offset to read or write at: a regular file, or a
 * device (whose offset means nothing). Errors: EBADF, EISDIR (a
 * directory), ESPIPE (a stream), ENOTCAPABLE; the kind before the rights,
 * as in {@link WasiContext.file}.
 */
function positional(ctx: WasiContext, fd: number, rights: number): FileDescriptor | DeviceDescriptor {
  // One lookup and the common kind first: this runs on every seek, pread and pwrite.
  const d = ctx.fds.get(fd);
  if (!(d instanceof FileDescriptor) && !(d instanceof DeviceDescriptor)) throw wasiError(d instanceof DirectoryDescriptor ? 'EISDIR' : 'ESPIPE');
  if ((d.rightsBase & rights) !== rights) throw wasiError('ENOTCAPABLE');
  return d;
}

/** Stat of any descriptor; a stream has no node and reports only its filetype. */
function statOf(d: Descriptor): Stat | StreamStat {
  if (d instanceof FileDescriptor || d instanceof DirectoryDescriptor || d instanceof DeviceDescriptor) return d.node.stat();
  return { filetype: d instanceof StreamDescriptor ? d.filetype : Filetype.UNKNOWN };
}

/** What fd_filestat_get says of a stream: its filetype, one link, and zeros. */
export interface StreamStat {
  readonly filetype: number;
}

/** Write a witx `filestat` at `buf`. */
export function writeFilestat(mem: GuestMemory, buf: number, st: Stat | StreamStat): void {
  const p = mem.check(buf, Layout.filestatSize);
  const dv = mem.dv;
  if ('filetype' in st) {
    mem.u8.fill(0, p, p + Layout.filestatSize);
    dv.setUint8(p + 16, st.filetype);
    dv.setUint32(p + 24, 1, true);
    return;
  }
  // One bounds check above; every byte is written below, padding included.
  dv.setBigUint64(p, st.dev, true);
  dv.setBigUint64(p + 8, st.ino, true);
  dv.setUint32(p + 16, filetypeCode[st.type], true);
  dv.setUint32(p + 20, 0, true);
  dv.setUint32(p + 24, st.nlink, true);
  dv.setUint32(p + 28, 0, true);
  dv.setUint32(p + 32, st.size >>> 0, true);
  dv.setUint32(p + 36, Math.floor(st.size / 4294967296), true);
  dv.setBigUint64(p + 40, st.atimeNs, true);
  dv.setBigUint64(p + 48, st.mtimeNs, true);
  dv.setBigUint64(p + 56, st.ctimeNs, true);
}

/** Decode fstflags into time changes. Errors: EINVAL (a time and _NOW together). */
export function timeChanges(atim: bigint, mtim: bigint, flags: number): [bigint | 'now' | undefined, bigint | 'now' | undefined] {
  if ((flags & FstFlags.ATIM && flags & FstFlags.ATIM_NOW) || (flags & FstFlags.MTIM && flags & FstFlags.MTIM_NOW)) {
    throw wasiError('EINVAL');
  }
  if ((flags & ~15) !== 0) throw wasiError('EINVAL');
  const a = flags & FstFlags.ATIM_NOW ? 'now' : flags & FstFlags.ATIM ? atim : undefined;
  const m = flags & FstFlags.MTIM_NOW ? 'now' : flags & FstFlags.MTIM ? mtim : undefined;
  return [a, m];
}
