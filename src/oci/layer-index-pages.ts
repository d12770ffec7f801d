import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fsError, type LayerEntryKind } from '../vfs/index.js';
import { kindCodes, type IndexColumns, type IndexedEntry } from './layer-columns.js';

/**
 * The entry columns of a cached layer index, read from its cache file in
 * blocks of {@link blockEntries} entries when an entry of the block is
 * first asked for, so opening a cached index reads nothing per entry and a
 * view that merges a few directories reads a few blocks. The file is
 * opened on the first read and stays open until {@link PagedColumns.close}
 * (as the layer's data file is), so an index that is never read holds no
 * descriptor. Every value read is range-checked before use: a file that
 * is gone, has another size than when it was opened, or holds a bad value
 * gives FsError EIO, never a wrong-typed entry.
 */

/** Entries per block. */
export const blockEntries = 1024;

/** Where a section of the cache file is. */
export interface Section {
  readonly at: number;
  readonly length: number;
}

/** The per-entry sections, in file order (part of the file format). */
export const entrySections = [
  ['kinds', Uint8Array],
  ['modes', Uint16Array],
  ['uids', Uint32Array],
  ['gids', Uint32Array],
  ['mtimeSec', Float64Array],
  ['mtimeNsec', Uint32Array],
  ['sizes', Float64Array],
  ['offsets', Float64Array],
  ['pathStart', Uint32Array],
  ['linkStart', Uint32Array],
] as const;

type EntrySection = (typeof entrySections)[number][0];
type Numeric = Uint8Array | Uint16Array | Uint32Array | Float64Array;

interface Block {
  readonly cols: Record<EntrySection, Numeric>;
  readonly paths: Buffer;
  readonly links: Buffer;
}

/** The entry columns of one cache file, read block by block. */
export class PagedColumns {
  readonly count: number;
  readonly #path: string;
  readonly #sections: ReadonlyMap<string, Section>;
  readonly #xattrs: Map<number, ReadonlyMap<string, Uint8Array>>;
  readonly #blocks: Array<Block | undefined>;
  /** Blocks of which only the paths were read (for path lookups). */
  readonly #pathBlocks: Array<{ start: Uint32Array; bytes: Buffer } | undefined>;
  /** Blocks of which only the kinds were read. */
  readonly #kindBlocks: Array<Numeric | undefined>;
  readonly #size: number;
  #fd: number | undefined;

  /** `size`: the file's size when its header was read. */
  constructor(path: string, size: number, count: number, sections: ReadonlyMap<string, Section>, xattrs: Map<number, ReadonlyMap<string, Uint8Array>>) {
    this.#path = path;
    this.#size = size;
    this.count = count;
    this.#sections = sections;
    this.#xattrs = xattrs;
    this.#blocks = new Array<Block | undefined>(Math.ceil(count / blockEntries));
    this.#pathBlocks = new Array<{ start: Uint32Array; bytes: Buffer } | undefined>(this.#blocks.length);
    this.#kindBlocks = new Array<Numeric | undefined>(this.#blocks.length);
  }

  /** Entry `i` (0 ≤ i < count). Errors: FsError EIO (the file cannot be read, or holds a bad value). */
  entry(i: number): IndexedEntry {
    const b = Math.floor(i / blockEntries);
    const block = (this.#blocks[b] ??= this.#readBlock(b));
    const k = i - b * blockEntries;
    const c = block.cols;
    const p0 = c.pathStart[k]!;
    const l0 = c.linkStart[k]!;
    const l1 = c.linkStart[k + 1]!;
    const base = c.pathStart[0]!;
    const linkBase = c.linkStart[0]!;
    return {
      path: block.paths.toString('utf8', p0 - base, c.pathStart[k + 1]! - base),
      kind: kindCodes[c.kinds[k]!]!,
      mode: c.modes[k]!,
      uid: c.uids[k]!,
      gid: c.gids[k]!,
      mtimeNs: BigInt(c.mtimeSec[k]!) * 1_000_000_000n + BigInt(c.mtimeNsec[k]!),
      size: c.sizes[k]!,
      offset: c.offsets[k]!,
      linkTarget: l0 === l1 ? '' : block.links.toString('utf8', l0 - linkBase, l1 - linkBase),
      xattrs: this.#xattrs.get(i),
    };
  }

  /** Entry `i`'s path alone: reads only the paths of its block when the block is not read yet. Errors: FsError EIO. */
  pathOf(i: number): string {
    const b = Math.floor(i / blockEntries);
    const k = i - b * blockEntries;
    const block = this.#blocks[b];
    if (block !== undefined) return block.paths.toString('utf8', block.cols.pathStart[k]! - block.cols.pathStart[0]!, block.cols.pathStart[k + 1]! - block.cols.pathStart[0]!);
    const paths = (this.#pathBlocks[b] ??= this.#readPaths(b));
    return paths.bytes.toString('utf8', paths.start[k]! - paths.start[0]!, paths.start[k + 1]! - paths.start[0]!);
  }

  /** Entry `i`'s kind alone: reads only the kinds of its block when the block is not read yet. Errors: FsError EIO. */
  kindOf(i: number): LayerEntryKind {
    const b = Math.floor(i / blockEntries);
    const k = i - b * blockEntries;
    let kinds = this.#blocks[b]?.cols.kinds ?? this.#kindBlocks[b];
    if (kinds === undefined) {
      const a = new Uint8Array(Math.min(blockEntries, this.count - b * blockEntries));
      this.#read('kinds', b * blockEntries, a);
      for (const code of a) if (code >= kindCodes.length) throw fsError('EIO', 'read', this.#path);
      this.#kindBlocks[b] = kinds = a;
    }
    return kindCodes[kinds[k]!]!;
  }

  /** `length` elements of a u32 section from element `start`, each checked below `bound`. Errors: FsError EIO. */
  u32(name: string, start: number, length: number, bound: number): Uint32Array {
    const out = new Uint32Array(length);
    this.#read(name, start * 4, new Uint8Array(out.buffer));
    for (let k = 0; k < length; k++) if (out[k]! >= bound) throw fsError('EIO', 'read', this.#path);
    return out;
  }

  /** Every column in memory (reads the blocks not read yet). */
  full(): IndexColumns {
    const n = this.count;
    const cols = Object.fromEntries(entrySections.map(([name, Ctor]) => [name, new Ctor(name === 'pathStart' || name === 'linkStart' ? n + 1 : n)])) as unknown as Record<EntrySection, Numeric>;
    for (const [name] of entrySections) this.#read(name, 0, new Uint8Array(cols[name].buffer));
    const bytes = (name: string): Buffer => {
      const out = Buffer.alloc(this.#sections.get(name)!.length);
      this.#read(name, 0, out);
      return out;
    };
    return {
      ...(cols as unknown as Pick<IndexColumns, 'kinds' | 'modes' | 'uids' | 'gids' | 'mtimeSec' | 'mtimeNsec' | 'sizes' | 'offsets' | 'pathStart' | 'linkStart'>),
      pathBytes: bytes('pathBytes'),
      linkBytes: bytes('linkBytes'),
      xattrs: this.#xattrs,
    };
  }

  /** Close the file (a later read reopens it). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #readBlock(b: number): Block {
    const start = b * blockEntries;
    const n = Math.min(blockEntries, this.count - start);
    const cols = {} as Record<EntrySection, Numeric>;
    for (const [name, Ctor] of entrySections) {
      const length = name === 'pathStart' || name === 'linkStart' ? n + 1 : n;
      const a = new Ctor(length);
      this.#read(name, start * Ctor.BYTES_PER_ELEMENT, new Uint8Array(a.buffer));
      cols[name] = a;
    }
    for (let k = 0; k < n; k++) if (cols.kinds[k]! >= kindCodes.length) throw fsError('EIO', 'read', this.#path);
    return { cols, paths: this.#strings(cols.pathStart, 'pathBytes'), links: this.#strings(cols.linkStart, 'linkBytes') };
  }

  #readPaths(b: number): { start: Uint32Array; bytes: Buffer } {
    const start = b * blockEntries;
    const n = Math.min(blockEntries, this.count - start);
    const starts = new Uint32Array(n + 1);
    this.#read('pathStart', start * 4, new Uint8Array(starts.buffer));
    return { start: starts, bytes: this.#strings(starts, 'pathBytes') };
  }

  /** The bytes of a block's strings, from its start offsets (checked). */
  #strings(starts: Numeric, name: string): Buffer {
    const n = starts.length - 1;
    for (let k = 1; k <= n; k++) if (starts[k]! < starts[k - 1]!) throw fsError('EIO', 'read', this.#path);
    if (starts[n]! > this.#sections.get(name)!.length) throw fsError('EIO', 'read', this.#path);
    const out = Buffer.alloc(starts[n]! - starts[0]!);
    this.#read(name, starts[0]!, out);
    return out;
  }

  /** Fill `dst` from byte `offset` of section `name`. Errors: FsError EIO. */
  #read(name: string, offset: number, dst: Uint8Array): void {
    const s = this.#sections.get(name)!;
    if (offset + dst.length > s.length) throw fsError('EIO', 'read', this.#path);
    try {
      if (this.#fd === undefined) {
        const fd = openSync(this.#path, 'r');
        if (fstatSync(fd).size !== this.#size) {
          closeSync(fd);
          throw new Error('the cache file changed');
        }
        this.#fd = fd;
      }
      let done = 0;
      while (done < dst.length) {
        const got = readSync(this.#fd, dst, done, dst.length - done, s.at + offset + done);
        if (got === 0) throw new Error('short read');
        done += got;
      }
    } catch {
      throw fsError('EIO', 'read', this.#path);
    }
  }
}
