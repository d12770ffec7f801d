import { coarseNowNs } from '../clock.js';
import type { DirNode, FileNode, Stat, TimeChange } from '../node.js';
import { withCopyUp } from './copy-up.js';
import { OverlayLeaf } from './inode.js';

/**
 * A regular file of the overlay. Reads go to the lower until the first
 * data change (write, truncate) copies it up.
 *
 * Metadata-only copy-up: `setTimes` on a lower file copies nothing. The
 * new times are kept on this node (stat shows them, `changes()` lists the
 * file as changed) and the data is still read from the lower. The copy is
 * materialized, data and times together, by the first data change, a
 * link or rename, or {@link Overlay.materialize} — which whoever reads the
 * upper as a changeset (a snapshot, a host-directory upper at exit) calls
 * first.
 */
export class OverlayFile extends OverlayLeaf<FileNode> implements FileNode {
  readonly type = 'file';
  #meta: { atimeNs: bigint; mtimeNs: bigint; ctimeNs: bigint } | undefined;

  get size(): number {
    return this.source.size;
  }

  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number {
    return this.source.read(dst, dstOffset, length, position);
  }

  write(src: Uint8Array, srcOffset: number, length: number, position: number): number {
    this.fs.mutate('write', this.name);
    // Like Linux, an empty write changes nothing, so it copies nothing up.
    if (length === 0 && this.upper === undefined) return 0;
    return withCopyUp(this, Infinity, (upper) => upper.write(src, srcOffset, length, position));
  }

  truncate(size: number): void {
    this.fs.mutate('truncate', this.name);
    // Only the bytes the truncate keeps are copied.
    withCopyUp(this, size, (upper) => upper.truncate(size));
  }

  override setTimes(atime: TimeChange, mtime: TimeChange): void {
    this.fs.mutate('utimensat', this.name);
    if (this.upper !== undefined) return this.upper.setTimes(atime, mtime);
    const now = coarseNowNs();
    const current = this.stat();
    this.origin ??= this.lower!.stat();
    this.#meta = {
      atimeNs: atime === undefined ? current.atimeNs : atime === 'now' ? now : atime,
      mtimeNs: mtime === undefined ? current.mtimeNs : mtime === 'now' ? now : mtime,
      ctimeNs: now,
    };
    if (this.lowerLinks > 0) this.fs.pendingMeta.add(this);
  }

  override pendingMeta(): Partial<Stat> {
    return this.#meta ?? {};
  }

  retain(): void {
    this.opens++;
    this.backing.retain();
  }

  release(): void {
    this.opens--;
    this.backing.release();
  }

  protected override moveOpens(from: FileNode | undefined, to: FileNode): void {
    for (let i = 0; i < this.opens; i++) {
      to.retain();
      from?.release();
    }
  }

  override attachUpper(upper: FileNode): void {
    super.attachUpper(upper);
    this.fs.pendingMeta.delete(this);
  }

  override detachUpper(origin: Stat | undefined): void {
    super.detachUpper(origin);
    if (this.#meta !== undefined && this.lowerLinks > 0) this.fs.pendingMeta.add(this);
  }

  override lowerNameGone(): void {
    if (this.lowerLinks === 0) this.fs.pendingMeta.delete(this);
  }

  override lowerNameBack(): void {
    if (this.#meta !== undefined && this.upper === undefined && this.lowerLinks > 0) this.fs.pendingMeta.add(this);
  }

  makeCopy(into: DirNode, name: string, dataBytes: number): FileNode {
    const lower = this.lower!;
    const st = this.stat();
    const copy = into.createFile(name, st.mode);
    try {
      copyData(lower, copy, Math.min(dataBytes, lower.size));
      copy.setTimes(st.atimeNs, st.mtimeNs);
    } catch (error) {
      into.unlink(name);
      throw error;
    }
    return copy;
  }
}

/** Copy the first `n` bytes of `from` into `to`, a chunk at a time. */
function copyData(from: FileNode, to: FileNode, n: number): void {
  if (n <= 0) return;
  const chunk = new Uint8Array(Math.min(n, 1 << 16));
  for (let at = 0; at < n; ) {
    const got = from.read(chunk, 0, Math.min(chunk.length, n - at), at);
    if (got <= 0) break;
    to.write(chunk, 0, got, at);
    at += got;
  }
}
