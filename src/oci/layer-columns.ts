import { StrataError } from '../errors.js';
import { LayerEntryKind, type LayerEntry } from '../vfs/index.js';
import { classify } from './layer-entries.js';
import type { TarEntry } from './tar.js';

/**
 * The entries of a layer index, column by column in typed arrays (what
 * the cache file stores, section by section). Path and link strings stay
 * UTF-8 bytes until an entry is asked for, so loading an index decodes
 * nothing per entry.
 */
export interface IndexColumns {
  readonly kinds: Uint8Array;
  readonly modes: Uint16Array;
  readonly uids: Uint32Array;
  readonly gids: Uint32Array;
  readonly mtimeSec: Float64Array;
  readonly mtimeNsec: Uint32Array;
  readonly sizes: Float64Array;
  readonly offsets: Float64Array;
  /** Entry i's normalized path is `pathBytes[pathStart[i] … pathStart[i + 1])`, UTF-8. */
  readonly pathStart: Uint32Array;
  readonly pathBytes: Buffer;
  /** Entry i's symlink target (verbatim) or hardlink target (normalized), the same way; empty for none. */
  readonly linkStart: Uint32Array;
  readonly linkBytes: Buffer;
  /** Entry number → `SCHILY.xattr.*` records. */
  readonly xattrs: Map<number, ReadonlyMap<string, Uint8Array>>;
}

/** Kind codes in {@link IndexColumns.kinds} (part of the cache file format). */
export const kindCodes: readonly LayerEntryKind[] = [
  LayerEntryKind.directory,
  LayerEntryKind.file,
  LayerEntryKind.symlink,
  LayerEntryKind.hardlink,
  LayerEntryKind.whiteout,
  LayerEntryKind.opaque,
];

const kindCode = new Map(kindCodes.map((k, i) => [k, i]));

/** An indexed entry, with its xattrs. */
export interface IndexedEntry extends LayerEntry {
  readonly xattrs: ReadonlyMap<string, Uint8Array> | undefined;
}

/** Entry `i` of `c` as an object (decodes its path and link). */
export function entryAt(c: IndexColumns, i: number): IndexedEntry {
  const ls = c.linkStart[i]!;
  const le = c.linkStart[i + 1]!;
  return {
    path: c.pathBytes.toString('utf8', c.pathStart[i]!, c.pathStart[i + 1]!),
    kind: kindCodes[c.kinds[i]!]!,
    mode: c.modes[i]!,
    uid: c.uids[i]!,
    gid: c.gids[i]!,
    mtimeNs: BigInt(c.mtimeSec[i]!) * 1_000_000_000n + BigInt(c.mtimeNsec[i]!),
    size: c.sizes[i]!,
    offset: c.offsets[i]!,
    linkTarget: ls === le ? '' : c.linkBytes.toString('utf8', ls, le),
    xattrs: c.xattrs.get(i),
  };
}

const maxSkippedListed = 100;

/** Collects classified members into growable columns. */
export class ColumnBuilder {
  readonly #label: string;
  readonly skipped: string[] = [];
  #skippedCount = 0;
  #n = 0;
  readonly #paths: string[] = [];
  readonly #links: string[] = [];
  #kinds = new Uint8Array(256);
  #modes = new Uint16Array(256);
  #uids = new Uint32Array(256);
  #gids = new Uint32Array(256);
  #mtimeSec = new Float64Array(256);
  #mtimeNsec = new Uint32Array(256);
  #sizes = new Float64Array(256);
  #offsets = new Float64Array(256);
  readonly #xattrs = new Map<number, ReadonlyMap<string, Uint8Array>>();

  constructor(label: string) {
    this.#label = label;
  }

  add(e: TarEntry): void {
    const c = classify(e, this.#label);
    if (c.skip) {
      this.#skippedCount++;
      if (this.skipped.length < maxSkippedListed) this.skipped.push(`${c.path || '/'}: ${c.reason}`);
      else if (this.skipped.length === maxSkippedListed) this.skipped.push('… (more skipped)');
      return;
    }
    const isFile = c.kind === LayerEntryKind.file;
    const i = this.push(c.path, c.kind, { mode: e.mode, uid: e.uid, gid: e.gid, mtimeNs: e.mtimeNs, size: isFile ? e.size : 0, offset: isFile ? e.offset : 0 }, c.linkTarget);
    if (e.xattrs !== undefined && e.xattrs.size > 0) this.#xattrs.set(i, e.xattrs);
  }

  push(path: string, kind: LayerEntryKind, m: { mode: number; uid: number; gid: number; mtimeNs: bigint; size: number; offset: number }, linkTarget = ''): number {
    const i = this.#n++;
    if (i === this.#kinds.length) this.#grow();
    this.#paths.push(path);
    this.#links.push(linkTarget);
    this.#kinds[i] = kindCode.get(kind)!;
    this.#modes[i] = m.mode & 0o7777;
    this.#uids[i] = clampU32(m.uid);
    this.#gids[i] = clampU32(m.gid);
    // Floor division, so negative times keep a non-negative nanosecond part.
    let sec = m.mtimeNs / 1_000_000_000n;
    let nsec = m.mtimeNs % 1_000_000_000n;
    if (nsec < 0n) {
      nsec += 1_000_000_000n;
      sec -= 1n;
    }
    this.#mtimeSec[i] = Number(sec);
    this.#mtimeNsec[i] = Number(nsec);
    this.#sizes[i] = m.size;
    this.#offsets[i] = m.offset;
    return i;
  }

  /** The columns. Errors: ERR_LAYER_TOO_LARGE (paths or link targets over 4 GiB in all). */
  finish(): IndexColumns {
    const n = this.#n;
    const [pathStart, pathBytes] = this.#strings(this.#paths, 'paths');
    const [linkStart, linkBytes] = this.#strings(this.#links, 'link targets');
    return {
      kinds: this.#kinds.slice(0, n),
      modes: this.#modes.slice(0, n),
      uids: this.#uids.slice(0, n),
      gids: this.#gids.slice(0, n),
      mtimeSec: this.#mtimeSec.slice(0, n),
      mtimeNsec: this.#mtimeNsec.slice(0, n),
      sizes: this.#sizes.slice(0, n),
      offsets: this.#offsets.slice(0, n),
      pathStart,
      pathBytes,
      linkStart,
      linkBytes,
      xattrs: this.#xattrs,
    };
  }

  #strings(list: readonly string[], what: string): [Uint32Array, Buffer] {
    const start = new Uint32Array(list.length + 1);
    let at = 0;
    for (let i = 0; i < list.length; i++) {
      start[i] = at;
      at += Buffer.byteLength(list[i]!);
      if (at > 0xffffffff) throw new StrataError('ERR_LAYER_TOO_LARGE', `${this.#label}: its ${what} take over 4 GiB`);
    }
    start[list.length] = at;
    return [start, Buffer.from(list.join(''))];
  }

  #grow(): void {
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a as never);
      return b;
    };
    this.#kinds = grow(this.#kinds, (n) => new Uint8Array(n));
    this.#modes = grow(this.#modes, (n) => new Uint16Array(n));
    this.#uids = grow(this.#uids, (n) => new Uint32Array(n));
    this.#gids = grow(this.#gids, (n) => new Uint32Array(n));
    this.#mtimeSec = grow(this.#mtimeSec, (n) => new Float64Array(n));
    this.#mtimeNsec = grow(this.#mtimeNsec, (n) => new Uint32Array(n));
    this.#sizes = grow(this.#sizes, (n) => new Float64Array(n));
    this.#offsets = grow(this.#offsets, (n) => new Float64Array(n));
  }
}

function clampU32(n: number): number {
  return n < 0 ? 0 : n > 0xffffffff ? 0xffffffff : n;
}
