import { directoryInheritingRights, directoryRights, fileRights, LookupFlags, OFlags, Rights as R } from './abi.js';
import type { WasiContext } from './context.js';
import { DirectoryDescriptor, FileDescriptor, openDevice } from './descriptor.js';
import { wasiError } from './errno.js';
import { timeChanges, writeFilestat } from './fd.js';

/**
 * Path calls: the 10 `path_*` functions of preview1.
 *
 * A path argument follows WASI's rules: it is relative to its directory fd,
 * and one that is absolute or whose `..` climbs above the fd fails with
 * EPERM ({@link escapesBase}), as does creating an absolute symlink. What
 * the path then meets in the tree is the VFS namespace's business: symlinks
 * already there resolve against the process root, as in a container, and
 * nothing resolves outside it (docs/decisions.md, "Guest paths follow
 * WASI's rules; links in the tree resolve as in a container").
 *
 * Each call checks, in order: the fd (EBADF), that it is a directory
 * (ENOTDIR), its rights (ENOTCAPABLE), the guest's pointers and UTF-8
 * (EFAULT, EILSEQ), the path rules (EPERM), then the VFS errors of the
 * operation.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#path_open
 */
export function pathSyscalls(ctx: WasiContext) {
  const str = (ptr: number, len: number) => ctx.memory.path(ptr, len);
  // A path argument that needs no other guest memory checked after it.
  const path1 = (ptr: number, len: number) => beneathFd(ctx.memory.path(ptr, len));

  return {
    /** Errors: EBADF, ENOTDIR, ENOTCAPABLE, EFAULT, EPERM, then mkdir's. */
    path_create_directory(fd: number, path: number, pathLen: number): number {
      const d = ctx.dir(fd, R.PATH_CREATE_DIRECTORY);
      ctx.namespace.mkdir(d.node, path1(path, pathLen));
      return 0;
    },

    /** Errors: EBADF, ENOTDIR, ENOTCAPABLE, EFAULT, EPERM, then resolution errors. */
    path_filestat_get(fd: number, flags: number, path: number, pathLen: number, buf: number): number {
      const d = ctx.dir(fd, R.PATH_FILESTAT_GET);
      const p = str(path, pathLen);
      ctx.memory.check(buf, 64);
      writeFilestat(ctx.memory, buf, ctx.namespace.stat(d.node, beneathFd(p), (flags & LookupFlags.SYMLINK_FOLLOW) !== 0));
      return 0;
    },

    /** Errors: EBADF, ENOTDIR, ENOTCAPABLE, EINVAL, EFAULT, EPERM, then resolution errors. */
    path_filestat_set_times(fd: number, flags: number, path: number, pathLen: number, atim: bigint, mtim: bigint, fst: number): number {
      const d = ctx.dir(fd, R.PATH_FILESTAT_SET_TIMES);
      const p = str(path, pathLen);
      const [a, m] = timeChanges(atim, mtim, fst);
      ctx.namespace.setTimes(d.node, beneathFd(p), (flags & LookupFlags.SYMLINK_FOLLOW) !== 0, a, m);
      return 0;
    },

    /** Errors: EBADF, ENOTDIR, ENOTCAPABLE (either fd), EFAULT, EPERM, then link's. */
    path_link(oldFd: number, oldFlags: number, oldPath: number, oldLen: number, newFd: number, newPath: number, newLen: number): number {
      const from = ctx.dir(oldFd, R.PATH_LINK_SOURCE);
      const to = ctx.dir(newFd, R.PATH_LINK_TARGET);
      const oldP = str(oldPath, oldLen);
      const newP = str(newPath, newLen);
      ctx.namespace.link(from.node, beneathFd(oldP), (oldFlags & LookupFlags.SYMLINK_FOLLOW) !== 0, to.node, beneathFd(newP));
      return 0;
    },

    /**
     * Open or create a file or directory. The new fd's rights are those
     * asked for, which must be within the directory's inheriting rights,
     * narrowed to what the node's kind supports.
     * Errors: EBADF, ENOTDIR, ENOTCAPABLE, EINVAL (bad oflags), EFAULT,
     * EPERM, EMFILE, then the namespace's open errors (ENOENT, EEXIST, EISDIR…).
     */
    path_open(
      fd: number,
      dirflags: number,
      path: number,
      pathLen: number,
      oflags: number,
      rightsBase: bigint,
      rightsInheriting: bigint,
      fdflags: number,
      opened: number,
    ): number {
      let needed = R.PATH_OPEN;
      if (oflags & OFlags.CREAT) needed |= R.PATH_CREATE_FILE;
      if (oflags & OFlags.TRUNC) needed |= R.PATH_FILESTAT_SET_SIZE;
      const d = ctx.dir(fd, needed);
      if ((oflags & ~15) !== 0) throw wasiError('EINVAL');
      const base = rightsBits(rightsBase);
      const inheriting = rightsBits(rightsInheriting);
      if (((base | inheriting) & ~d.rightsInheriting) !== 0) throw wasiError('ENOTCAPABLE');
      const p = str(path, pathLen);
      ctx.memory.check(opened, 4);
      beneathFd(p);
      ctx.fds.reserve();
      const { node } = ctx.namespace.open(d.node, p, {
        follow: (dirflags & LookupFlags.SYMLINK_FOLLOW) !== 0,
        create: (oflags & OFlags.CREAT) !== 0,
        exclusive: (oflags & OFlags.EXCL) !== 0,
        directory: (oflags & OFlags.DIRECTORY) !== 0,
      });
      let desc;
      if (node.type === 'directory') {
        if ((oflags & OFlags.TRUNC) !== 0 || (base & R.FD_WRITE) !== 0) throw wasiError('EISDIR');
        desc = new DirectoryDescriptor(node, base & directoryRights, inheriting & directoryInheritingRights);
      } else if (node.type === 'file') {
        if ((oflags & OFlags.TRUNC) !== 0) node.truncate(0);
        desc = new FileDescriptor(node, base & fileRights, inheriting & fileRights, fdflags);
      } else if (node.type === 'character-device') {
        // O_TRUNC means nothing to a device, as on Linux (fopen("/dev/null", "w") truncates).
        desc = openDevice(node, ctx.fds, base, fdflags);
      } else {
        throw wasiError('ELOOP');
      }
      let newFd: number;
      try {
        newFd = ctx.fds.insert(desc);
      } catch (error) {
        desc.close(); // the node was retained for an fd that never came to be
        throw error;
      }
      ctx.memory.setU32(opened, newFd);
      return 0;
    },

    /** Writes at most `bufLen` bytes of the target. Errors: EBADF, ENOTDIR, ENOTCAPABLE, EFAULT, EPERM, then resolution errors, EINVAL (not a symlink). */
    path_readlink(fd: number, path: number, pathLen: number, buf: number, bufLen: number, bufused: number): number {
      const d = ctx.dir(fd, R.PATH_READLINK);
      const p = str(path, pathLen);
      const mem = ctx.memory;
      mem.check(buf, bufLen);
      mem.check(bufused, 4);
      const target = new TextEncoder().encode(ctx.namespace.readlink(d.node, beneathFd(p)));
      const n = Math.min(target.length, bufLen >>> 0);
      mem.write(buf, target.subarray(0, n));
      mem.setU32(bufused, n);
      return 0;
    },

    /** Errors: EBADF, ENOTDIR, ENOTCAPABLE, EFAULT, EPERM, then rmdir's. */
    path_remove_directory(fd: number, path: number, pathLen: number): number {
      const d = ctx.dir(fd, R.PATH_REMOVE_DIRECTORY);
      ctx.namespace.rmdir(d.node, path1(path, pathLen));
      return 0;
    },

    /** Errors: EBADF, ENOTDIR, ENOTCAPABLE (either fd), EFAULT, EPERM, then rename's. */
    path_rename(fd: number, oldPath: number, oldLen: number, newFd: number, newPath: number, newLen: number): number {
      const from = ctx.dir(fd, R.PATH_RENAME_SOURCE);
      const to = ctx.dir(newFd, R.PATH_RENAME_TARGET);
      const oldP = str(oldPath, oldLen);
      const newP = str(newPath, newLen);
      ctx.namespace.rename(from.node, beneathFd(oldP), to.node, beneathFd(newP));
      return 0;
    },

    /**
     * The target is stored verbatim; a relative one may climb (it resolves
     * inside the process root like any link in the tree).
     * Errors: EBADF, ENOTDIR, ENOTCAPABLE, EFAULT, EPERM (an absolute
     * target, or a path escaping the fd), then symlink's.
     */
    path_symlink(oldPath: number, oldLen: number, fd: number, newPath: number, newLen: number): number {
      const d = ctx.dir(fd, R.PATH_SYMLINK);
      const target = str(oldPath, oldLen);
      const p = str(newPath, newLen);
      if (target.charCodeAt(0) === 47) throw wasiError('EPERM');
      ctx.namespace.symlink(target, d.node, beneathFd(p));
      return 0;
    },

    /** Errors: EBADF, ENOTDIR, ENOTCAPABLE, EFAULT, EPERM, then unlink's. */
    path_unlink_file(fd: number, path: number, pathLen: number): number {
      const d = ctx.dir(fd, R.PATH_UNLINK_FILE);
      ctx.namespace.unlink(d.node, path1(path, pathLen));
      return 0;
    },
  };
}

/**
 * Does a guest's path argument leave its directory fd? True when it is
 * absolute, or when its `..` components, read left to right, climb above
 * the fd. Judged on the text: where a symlink in the tree takes the path is
 * the namespace's rule, not this one.
 * https://github.com/WebAssembly/wasi-filesystem/blob/main/path-resolution.md
 */
export function escapesBase(path: string): boolean {
  if (path.charCodeAt(0) === 47) return true;
  if (!path.includes('..')) return false;
  let depth = 0;
  for (const part of path.split('/')) {
    if (part === '..') {
      if (--depth < 0) return true;
    } else if (part !== '' && part !== '.') {
      depth++;
    }
  }
  return false;
}

/** `path`, if it stays beneath its directory fd. Errors: EPERM. */
function beneathFd(path: string): string {
  if (escapesBase(path)) throw wasiError('EPERM');
  return path;
}

/** Rights of a preopened directory: everything a directory may hold and pass on. */
export const preopenRights = { base: directoryRights, inheriting: directoryInheritingRights } as const;

/** The rights strata knows (30 bits) of a guest's u64, without BigInt arithmetic in the common case. */
export function rightsBits(rights: bigint): number {
  return rights >= 0n && rights <= 0x3fffffffn ? Number(rights) : Number(BigInt.asUintN(30, rights));
}
