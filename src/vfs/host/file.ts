import { closeSync, constants, fstatSync, ftruncateSync, futimesSync, openSync, readSync, writeSync, type BigIntStats } from 'node:fs';
import { fsError } from '../errors.js';
import type { FileNode, SymlinkNode } from '../node.js';
import { call, fileOpenFlags } from './access.js';
import { HostNodeBase, type HostFs, type Place } from './node-base.js';

// Read-write, through a /proc/self/fd/N link, which must be followed to
// reach the file: no O_NOFOLLOW here.
const reopenFlags = constants.O_RDWR | (constants.O_NONBLOCK ?? 0);

/** Closes the fd of a file that was retained and never released, once the node is garbage. */
const unreleased = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
});

/**
 * A host regular file. `retain` opens a host fd (read-write on a writable
 * bind, else read-only) that later reads and writes use, so an unlinked file
 * stays usable; without one, each operation opens the file by its place and
 * checks it is the same inode before touching it.
 */
export class HostFile extends HostNodeBase implements FileNode {
  readonly type = 'file';
  #fd: number | undefined;
  #fdWritable = false;
  #opens = 0;

  get size(): number {
    this.fs.access.begin();
    return Number(this.hostStat('fstat').size);
  }

  override hostStat(syscall: string): BigIntStats {
    if (this.#fd !== undefined) return call(syscall, this.place?.name ?? '', () => fstatSync(this.#fd!, { bigint: true }));
    return super.hostStat(syscall);
  }

  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number {
    return this.#withFd(false, 'read', (fd) => readSync(fd, dst, dstOffset, length, position));
  }

  /** Errors: EROFS, EACCES (the host file is not writable), ENOSPC, EFBIG, ENOENT. */
  write(src: Uint8Array, srcOffset: number, length: number, position: number): number {
    if (this.fs.readonly) throw fsError('EROFS', 'write');
    if (length === 0) return 0;
    return this.#withFd(true, 'write', (fd) => {
      let done = 0;
      while (done < length) {
        const n = writeSync(fd, src, srcOffset + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    });
  }

  /** Errors: EROFS, EACCES, EFBIG, ENOSPC, ENOENT. */
  truncate(size: number): void {
    if (this.fs.readonly) throw fsError('EROFS', 'truncate');
    this.#withFd(true, 'truncate', (fd) => ftruncateSync(fd, size));
  }

  retain(): void {
    if (++this.#opens > 1 || this.#fd !== undefined) return;
    this.fs.access.begin();
    // With /proc the fd is read-only until the first write reopens it
    // through /proc/self/fd (which works after an unlink too), so a guest
    // that only reads never holds a host file open for writing, which file
    // watchers would take for a write when it closes. Elsewhere a later
    // reopen could not reach an unlinked file, so the fd is read-write now.
    const write = !this.fs.readonly && this.fs.access.resolution !== 'proc-fd';
    try {
      this.#fd = this.#open(write, 'open');
      this.#fdWritable = write;
    } catch {
      try {
        if (write) this.#fd = this.#open(false, 'open');
      } catch {
        // Nothing to hold: each operation opens the file and reports its own error.
      }
    }
    if (this.#fd !== undefined) unreleased.register(this, this.#fd, this);
  }

  release(): void {
    if (--this.#opens > 0 || this.#fd === undefined) return;
    unreleased.unregister(this);
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#fdWritable = false;
  }

  protected override applyTimes(a: number, m: number): void {
    if (this.#fd !== undefined) call('utimensat', this.place?.name ?? '', () => futimesSync(this.#fd!, a, m));
    else super.applyTimes(a, m);
  }

  #withFd<T>(write: boolean, syscall: string, fn: (fd: number) => T): T {
    this.fs.access.begin();
    if (write && this.#fd !== undefined && !this.#fdWritable && this.fs.access.resolution === 'proc-fd') this.#reopenWritable(syscall);
    const held = this.#fd;
    if (held !== undefined && (!write || this.#fdWritable)) return call(syscall, this.place?.name ?? '', () => fn(held));
    const fd = this.#open(write, syscall);
    try {
      return call(syscall, this.place?.name ?? '', () => fn(fd));
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Replace the held read-only fd by a read-write one on the same inode,
   * through /proc/self/fd (no path is walked). Errors: EACCES (the host
   * file is not writable).
   */
  #reopenWritable(syscall: string): void {
    const held = this.#fd!;
    const name = this.place?.name ?? '';
    const fd = call(syscall, name, () => openSync(`/proc/self/fd/${held}`, reopenFlags));
    try {
      const st = call(syscall, name, () => fstatSync(fd, { bigint: true }));
      if (!st.isFile() || st.ino !== this.ino || st.dev !== this.hostDev) throw fsError('EIO', syscall, name);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    unreleased.unregister(this);
    closeSync(held);
    this.#fd = fd;
    this.#fdWritable = true;
    unreleased.register(this, fd, this);
  }

  /** Open this file by its place, never following a symlink, and check the fd is this inode before anything reads it. */
  #open(write: boolean, syscall: string): number {
    const place = this.located(syscall);
    const path = this.fs.access.entry(place.dir, place.name, syscall);
    const flags = (write ? constants.O_RDWR : constants.O_RDONLY) | fileOpenFlags;
    const fd = call(syscall, place.name, () => openSync(path, flags), 'ENOENT');
    try {
      const st = call(syscall, place.name, () => fstatSync(fd, { bigint: true }));
      if (!st.isFile() || st.ino !== this.ino || st.dev !== this.hostDev) throw fsError('ENOENT', syscall, place.name);
      this.fs.access.recheck(place.dir, syscall);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return fd;
  }
}

/** A host symlink. Its target is read once (a symlink never changes) and resolved by the namespace, never by the host. */
export class HostSymlink extends HostNodeBase implements SymlinkNode {
  readonly type = 'symlink';
  readonly target: string;

  constructor(fs: HostFs, st: BigIntStats, place: Place, target: string) {
    super(fs, st, place);
    this.target = target;
  }

  get size(): number {
    return Buffer.byteLength(this.target);
  }
}
