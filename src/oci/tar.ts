import { StrataError } from '../errors.js';

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

const block = 512;
const utf8 = new TextDecoder('utf-8');

interface Pending {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtimeNs?: bigint;
  xattrs?: Map<string, Uint8Array>;
  sparse?: boolean;
  headerOffset?: number;
}

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
  #pending: Pending = {};
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
    const ustar = isUstar(h);
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
    const p = this.#pending;
    for (const [key, value] of records) {
      switch (key) {
        case 'path':
          p.path = utf8.decode(value);
          break;
        case 'linkpath':
          p.linkpath = utf8.decode(value);
          break;
        case 'size':
          p.size = paxInteger(value, key, at);
          break;
        case 'uid':
          p.uid = paxInteger(value, key, at);
          break;
        case 'gid':
          p.gid = paxInteger(value, key, at);
          break;
        case 'mtime':
          p.mtimeNs = paxTime(value, at);
          break;
        default:
          if (key.startsWith('SCHILY.xattr.')) {
            (p.xattrs ??= new Map()).set(key.slice('SCHILY.xattr.'.length), value);
          } else if (key.startsWith('GNU.sparse.')) {
            p.sparse = true;
          }
      }
    }
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

function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < block; i++) if (h[i] !== 0) return false;
  return true;
}

function isUstar(h: Uint8Array): 'posix' | 'gnu' | undefined {
  // "ustar\0" "00" is POSIX; "ustar " " \0" is GNU.
  if (h[257] !== 0x75 || h[258] !== 0x73 || h[259] !== 0x74 || h[260] !== 0x61 || h[261] !== 0x72) return undefined;
  return h[262] === 0 ? 'posix' : 'gnu';
}

function checkChecksum(h: Uint8Array, at: number): void {
  let unsigned = 8 * 0x20;
  for (let i = 0; i < 148; i++) unsigned += h[i]!;
  for (let i = 156; i < block; i++) unsigned += h[i]!;
  const stored = readOctal(h, 148, 8);
  if (stored === unsigned) return;
  // Old tars summed signed bytes; accept either, as GNU tar does.
  let signed = 8 * 0x20;
  for (let i = 0; i < block; i++) {
    if (i >= 148 && i < 156) continue;
    const b = h[i]!;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored === undefined || stored !== signed) {
    throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has a bad checksum (not a tar, or corrupt)`);
  }
}

/** An octal field (spaces and NULs around the digits), or undefined if malformed. */
function readOctal(h: Uint8Array, off: number, len: number): number | undefined {
  let i = off;
  const end = off + len;
  while (i < end && (h[i] === 0x20 || h[i] === 0)) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = h[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return undefined;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) if (h[i] !== 0x20 && h[i] !== 0) return undefined;
  return digits === 0 ? 0 : value;
}

function readNumber(h: Uint8Array, off: number, len: number, field: string, at: number): number {
  const first = h[off]!;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    if (first === 0xff) throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has a negative ${field}`);
    let value = first & 0x7f;
    for (let i = off + 1; i < off + len; i++) {
      value = value * 256 + h[i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has an out-of-range ${field}`);
    }
    return value;
  }
  const value = readOctal(h, off, len);
  if (value === undefined) throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has a malformed ${field} field`);
  return value;
}

function readString(h: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && h[end] !== 0) end++;
  return utf8.decode(h.subarray(off, end));
}

function decodeCString(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  return utf8.decode(bytes.subarray(0, end));
}

/** Pax records: `LEN KEY=VALUE\n`, LEN counting the whole record in bytes. */
function parsePax(bytes: Uint8Array, at: number): Array<[string, Uint8Array]> {
  const records: Array<[string, Uint8Array]> = [];
  const bad = (why: string): StrataError => new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: ${why}`);
  let i = 0;
  while (i < bytes.length) {
    // Trailing NUL padding after the last record is tolerated.
    if (bytes[i] === 0) break;
    let len = 0;
    let j = i;
    while (j < bytes.length && bytes[j] !== 0x20) {
      const c = bytes[j]!;
      if (c < 0x30 || c > 0x39 || j - i > 9) throw bad('bad record length');
      len = len * 10 + (c - 0x30);
      j++;
    }
    if (j === i || j >= bytes.length || len <= j - i + 1 || i + len > bytes.length) throw bad('bad record length');
    const end = i + len;
    if (bytes[end - 1] !== 0x0a) throw bad('record does not end in a newline');
    const body = bytes.subarray(j + 1, end - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) throw bad('record has no key');
    records.push([utf8.decode(body.subarray(0, eq)), body.subarray(eq + 1)]);
    i = end;
  }
  return records;
}

function paxInteger(value: Uint8Array, key: string, at: number): number {
  const text = utf8.decode(value);
  if (!/^[0-9]{1,16}$/.test(text)) throw new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: bad ${key} '${text.slice(0, 40)}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: ${key} out of range`);
  return n;
}

/** A pax time: `[-]SECONDS[.FRACTION]`, to nanoseconds (extra digits truncated). */
function paxTime(value: Uint8Array, at: number): bigint {
  const text = utf8.decode(value);
  const m = /^(-?)([0-9]{1,19})(?:\.([0-9]*))?$/.exec(text);
  if (m === null) throw new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: bad mtime '${text.slice(0, 40)}'`);
  const frac = (m[3] ?? '').slice(0, 9).padEnd(9, '0');
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt(frac);
  return m[1] === '-' ? -ns : ns;
}
