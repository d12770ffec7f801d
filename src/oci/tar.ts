import { StrataError } from '../errors.js';
import { checkChecksum, decodeCString, isZeroBlock, readNumber, readString, tarBlock as block, ustarKind } from './tar-header.js';
import { applyPax, parsePax, type PendingMember } from './tar-pax.js';

/**
 * A streaming tar reader that reports where each entry's data starts.
 *
 * Written here rather than taken from tar-stream because the layer index
 * needs every entry's DATA OFFSET in the uncompressed stream, so files can
 * later be read lazily with a positional read; tar-stream (used by the tests
 * to WRITE tars) hands out data as a stream and never exposes offsets.
 *
 * Formats: ustar and v7 headers, POSIX pax extended headers (`x`; `g` is
 * parsed and ignored, as Go's archive/tar, containerd and umoci do), GNU
 * long names and long link targets (`L`, `K`), GNU base-256 numbers.
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html
 *
 * The header block's fields are read in tar-header.ts, pax records parsed
 * in tar-pax.ts; this file is the stream: the reader's states and the
 * entries it reports.
 */

/** Tar typeflags this reader distinguishes. Anything else is reported as is. */
export const TarType = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  charDevice: '3',
  blockDevice: '4',
  directory: '5',
  fifo: '6',
  contiguous: '7',
  paxHeader: 'x',
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
} as const;

/** One archive member, after its pax / GNU long-name headers were applied. */
export interface TarEntry {
  /** The name as stored (not normalized), decoded as UTF-8. */
  readonly name: string;
  /** The typeflag character; `'\0'` and `'7'` are reported as `'0'`. */
  readonly type: string;
  /** Bytes of data that follow the header. */
  readonly size: number;
  /** Offset of the first data byte in the uncompressed stream. */
  readonly offset: number;
  /** Offset of this entry's first header block (pax or GNU headers included). */
  readonly headerOffset: number;
  /** Permission bits and setuid/setgid/sticky (07777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Modification time, nanoseconds since the epoch. */
  readonly mtimeNs: bigint;
  /** Symlink or hardlink target (`''` for other types). */
  readonly linkName: string;
  /** `SCHILY.xattr.*` pax records: name → raw value bytes. */
  readonly xattrs: ReadonlyMap<string, Uint8Array> | undefined;
}

/** Limits of a {@link TarReader}. */
export interface TarLimits {
  /** Largest pax or GNU long-name header accepted, in bytes. */
  readonly maxMetaBytes: number;
}

/** Defaults: pax and GNU long-name headers up to 1 MiB. */
export const defaultTarLimits: TarLimits = { maxMetaBytes: 1 << 20 };


/**
 * A push parser: feed it the uncompressed stream with {@link push}, in
 * chunks of any size, then call {@link end}. `onEntry` is called for each
 * member as soon as its header is complete, before its data arrives.
 *
 * Errors (thrown from push/end, in the order they can occur):
 * ERR_TAR_HEADER (bad checksum, bad number, bad pax record),
 * ERR_TAR_PAX_TOO_LARGE (a pax or GNU long-name header over the cap),
 * ERR_TAR_UNSUPPORTED (GNU sparse members), ERR_TAR_TRUNCATED (the stream ends inside a header or data).
 * After an error the reader is unusable.
 *
 * Memory is bounded: at most one header block and one capped meta header
 * are buffered; file data is skipped, never kept.
 *
 * @example
 * const reader = new TarReader((e) => console.log(e.name, e.offset, e.size));
 * for await (const chunk of stream) reader.push(chunk);
 * reader.end();
 */
export class TarReader {
  readonly #onEntry: (entry: TarEntry) => void;
  readonly #limits: TarLimits;
  /** Bytes consumed so far (the offset of the next byte pushed). */
  #pos = 0;
  /** Partial header block. */
  readonly #header = new Uint8Array(block);
  #headerFill = 0;
  /** Data (plus padding) still to skip for the current member. */
  #skip = 0;
  /** Meta header body being collected (pax or GNU long name). */
  #meta: { type: string; bytes: Uint8Array; fill: number; padding: number } | undefined;
  #pending: PendingMember = {};
  #done = false;
  #failed = false;

  constructor(onEntry: (entry: TarEntry) => void, limits: Partial<TarLimits> = {}) {
    this.#onEntry = onEntry;
    this.#limits = { ...defaultTarLimits, ...limits };
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.#pos;
  }

  /** True once the end-of-archive block was seen (later bytes are ignored). */
  get done(): boolean {
    return this.#done;
  }

  /** Parse the next chunk of the stream. Errors: see the class. */
  push(chunk: Uint8Array): void {
    if (this.#failed) throw new StrataError('ERR_TAR_HEADER', 'tar reader used after an error');
    try {
      this.#push(chunk);
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  /**
   * The stream ended. A stream may end right after a member without the two
   * zero blocks (as Go's archive/tar and tar-stream accept).
   * Errors: ERR_TAR_TRUNCATED.
   */
  end(): void {
    if (this.#failed || this.#done) return;
    const inside = this.#headerFill > 0 || this.#skip > 0 || this.#meta !== undefined || this.#pending.headerOffset !== undefined;
    if (inside) {
      this.#failed = true;
      throw new StrataError('ERR_TAR_TRUNCATED', `tar stream truncated at byte ${this.#pos}`);
    }
    this.#done = true;
  }

  #push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n && !this.#done) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, n - i);
        this.#skip -= take;
        i += take;
        this.#pos += take;
        continue;
      }
      const meta = this.#meta;
      if (meta !== undefined) {
        const want = meta.bytes.length - meta.fill;
        const take = Math.min(want, n - i);
        meta.bytes.set(chunk.subarray(i, i + take), meta.fill);
        meta.fill += take;
        i += take;
        this.#pos += take;
        if (meta.fill === meta.bytes.length) {
          this.#meta = undefined;
          this.#skip = meta.padding;
          this.#applyMeta(meta.type, meta.bytes);
        }
        continue;
      }
      const take = Math.min(block - this.#headerFill, n - i);
      this.#header.set(chunk.subarray(i, i + take), this.#headerFill);
      this.#headerFill += take;
      i += take;
      this.#pos += take;
      if (this.#headerFill === block) {
        this.#headerFill = 0;
        this.#onHeader(this.#pos - block);
      }
    }
    // Bytes after the end-of-archive marker are counted but not parsed.
    if (i < n) this.#pos += n - i;
  }

  #onHeader(at: number): void {
    const h = this.#header;
    if (isZeroBlock(h)) {
      if (this.#pending.headerOffset !== undefined) {
        throw new StrataError('ERR_TAR_TRUNCATED', `tar extended header at byte ${this.#pending.headerOffset} is not followed by a member`);
      }
      this.#done = true;
      return;
    }
    checkChecksum(h, at);
    const typeChar = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
    const size = readNumber(h, 124, 12, 'size', at);
    const padding = (block - (size % block)) % block;
    this.#pending.headerOffset ??= at;
    if (typeChar === TarType.paxHeader || typeChar === TarType.paxGlobal || typeChar === TarType.gnuLongName || typeChar === TarType.gnuLongLink) {
      if (size > this.#limits.maxMetaBytes) {
        throw new StrataError('ERR_TAR_PAX_TOO_LARGE', `tar ${describeMeta(typeChar)} at byte ${at} is ${size} bytes, over the limit of ${this.#limits.maxMetaBytes}`);
      }
      if (size === 0) {
        this.#skip = 0;
        this.#applyMeta(typeChar, new Uint8Array(0));
      } else {
        this.#meta = { type: typeChar, bytes: new Uint8Array(size), fill: 0, padding };
      }
      return;
    }
    const pending = this.#pending;
    this.#pending = {};
    const ustar = ustarKind(h);
    let name = pending.path;
    if (name === undefined) {
      name = readString(h, 0, 100);
      // The prefix field exists only in POSIX ustar; GNU stores times there.
      if (ustar === 'posix') {
        const prefix = readString(h, 345, 155);
        if (prefix !== '') name = `${prefix}/${name}`;
      }
    }
    const type = typeChar === TarType.contiguous ? TarType.file : typeChar;
    if (type === 'S' || pending.sparse === true) {
      throw new StrataError('ERR_TAR_UNSUPPORTED', `tar member '${name.slice(0, 200)}' at byte ${at} is a GNU sparse file, which layers do not use`);
    }
    // Links, directories, devices and fifos carry no data whatever their
    // size field says, as in Go's archive/tar (which containerd and umoci use).
    const dataSize = headerOnly.has(type) ? 0 : pending.size ?? size;
    const entry: TarEntry = {
      name,
      type,
      size: dataSize,
      offset: at + block,
      headerOffset: pending.headerOffset ?? at,
      mode: readNumber(h, 100, 8, 'mode', at) & 0o7777,
      uid: pending.uid ?? readNumber(h, 108, 8, 'uid', at),
      gid: pending.gid ?? readNumber(h, 116, 8, 'gid', at),
      mtimeNs: pending.mtimeNs ?? BigInt(readNumber(h, 136, 12, 'mtime', at)) * 1_000_000_000n,
      linkName: pending.linkpath ?? readString(h, 157, 100),
      xattrs: pending.xattrs,
    };
    if (entry.name.includes('\0') || entry.linkName.includes('\0')) {
      throw new StrataError('ERR_TAR_HEADER', `tar member at byte ${at} has a NUL byte in its name or link target`);
    }
    this.#skip = dataSize + ((block - (dataSize % block)) % block);
    this.#onEntry(entry);
  }

  #applyMeta(type: string, bytes: Uint8Array): void {
    const at = this.#pending.headerOffset ?? this.#pos;
    if (type === TarType.gnuLongName || type === TarType.gnuLongLink) {
      const text = decodeCString(bytes);
      if (type === TarType.gnuLongName) this.#pending.path = text;
      else this.#pending.linkpath = text;
      return;
    }
    const records = parsePax(bytes, at);
    if (type === TarType.paxGlobal) return;
    applyPax(this.#pending, records, at);
  }
}

const headerOnly = new Set<string>([TarType.hardlink, TarType.symlink, TarType.charDevice, TarType.blockDevice, TarType.directory, TarType.fifo]);

/**
 * Parse a whole tar held in memory (tests and small layers).
 * Errors: as {@link TarReader}.
 */
export function readTarEntries(bytes: Uint8Array, limits?: Partial<TarLimits>): TarEntry[] {
  const entries: TarEntry[] = [];
  const reader = new TarReader((e) => entries.push(e), limits);
  reader.push(bytes);
  reader.end();
  return entries;
}

function describeMeta(type: string): string {
  return type === TarType.gnuLongName ? 'GNU long name' : type === TarType.gnuLongLink ? 'GNU long link' : 'pax header';
}
