import { lstatSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { fsError } from '../errors.js';
import type { DirNode, FileSystem } from '../node.js';
import { call, HostAccess, type HostResolution } from './access.js';
import { HostDirectory } from './directory.js';
import { ExactTimes, NodeCache, type HostFs } from './node-base.js';

/** Options of {@link HostDir}. */
export interface HostDirOptions {
  /** The host directory, absolute. Symlinks in it are resolved once, here (the caller chose it). */
  readonly path: string;
  /** Every mutation fails with EROFS, and files are opened read-only on the host. */
  readonly readonly: boolean;
  /** Device number reported by stat (inode numbers are the host's). */
  readonly dev: bigint;
  /** Allow the host's root directory (`/`, a drive root) to be bound. Off by default. */
  readonly allowHostRoot?: boolean;
  /**
   * `auto` (the default) confines through `/proc/self/fd` where it works
   * (Linux) and through checked paths elsewhere; `path` forces the
   * portable strategy, for tests of it on Linux.
   */
  readonly resolution?: 'auto' | 'path';
}

/**
 * A host directory presented as VFS nodes: a bind mount, read-only or
 * read-write, that nothing inside it can escape.
 *
 * Confinement. The namespace hands a filesystem single names, never paths,
 * and resolves symlinks itself; `confined` makes it resolve this
 * filesystem's links within the mount root (absolute targets restart there,
 * `..` stops there). Below that, every host call names an entry of a
 * directory node found by an earlier lookup, never a guest string, and
 * never follows the last component. What a host process racing with the
 * guest can and cannot do is stated in docs/decisions.md ("Bind mounts:
 * what is closed against a racing host"): on Linux every directory is
 * reached through an fd (`/proc/self/fd/N/NAME`, which is openat), so a
 * directory swapped for a symlink is never followed; elsewhere each
 * ancestor is re-checked around every call, which narrows the window
 * without closing it.
 *
 * Nodes. One host inode is one node object while anything holds it (hard
 * links share it); inode numbers, modes, owners, sizes and times are the
 * host's (`lstat` with nanoseconds). FIFOs, sockets and devices are not
 * shown. A file `retain`ed by an open description holds a host fd, so it
 * stays usable after an unlink. Readdir cookies are kept per directory and
 * stay valid while the host or the guest changes it.
 *
 * Errors (constructor, FsError with syscall `bind`): EINVAL (a relative
 * path), ENOENT, ENOTDIR, EACCES, EPERM (the host's root without
 * `allowHostRoot`).
 *
 * @example
 * const bind = new HostDir({ path: '/home/me/project', readonly: false, dev: 5n });
 * ns.mount('/work', bind.root);
 * // … run guests …
 * bind.close();
 */
export class HostDir implements FileSystem, HostFs {
  readonly dev: bigint;
  readonly readonly: boolean;
  readonly confined = true as const;
  readonly root: DirNode;
  /** The host directory after resolving symlinks in the given path. */
  readonly path: string;
  /** How host paths are reached: `proc-fd` on Linux with /proc, else `path`. */
  readonly resolution: HostResolution;
  /** @internal */
  readonly access: HostAccess;
  /** @internal */
  readonly nodes = new NodeCache();
  /** @internal */
  readonly times = new ExactTimes();

  constructor(options: HostDirOptions) {
    if (!isAbsolute(options.path)) throw fsError('EINVAL', 'bind', options.path);
    const real = call('bind', options.path, () => realpathSync.native(options.path));
    if (dirname(real) === real && options.allowHostRoot !== true) {
      throw Object.assign(fsError('EPERM', 'bind', real), {
        message: `EPERM: bind '${real}': the host's root directory is bound only with allowHostRoot`,
      });
    }
    const st = call('bind', options.path, () => lstatSync(real, { bigint: true }));
    if (!st.isDirectory()) throw fsError('ENOTDIR', 'bind', options.path);
    this.dev = options.dev;
    this.readonly = options.readonly;
    this.path = real;
    const root = new HostDirectory(this, st, undefined);
    this.nodes.set(root);
    this.root = root;
    this.access = new HostAccess(real, root, options.resolution ?? 'auto');
    this.resolution = this.access.resolution;
    this.access.closeWhenCollected(this);
  }

  /**
   * Close every host fd this filesystem holds (directory fds, and the
   * root's). Files still retained keep their own fd until released. After
   * this, every operation fails with EIO.
   */
  close(): void {
    this.access.dispose();
  }
}
