import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

/**
 * A small DSL for test layers, after containerd's tartest: each helper is
 * one tar member, {@link tar} packs them in order with tar-stream. Malformed
 * tars are built from these bytes by hand (see {@link rawHeader}).
 *
 * @example
 * const layer = await tar(t.dir('etc'), t.symlink('/etc', 'localetc'), t.file('localetc/x', 'hi'));
 */
export interface TarItem {
  readonly header: Partial<Header> & Pick<Header, 'name'>;
  readonly content: Uint8Array;
}

/** Options common to every member. */
export interface ItemOptions {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch (default 1_700_000_000). */
  readonly mtime?: number;
  /** Extra pax records (e.g. `SCHILY.xattr.user.x`). */
  readonly pax?: Record<string, string>;
}

const defaultMtime = 1_700_000_000;

function item(name: string, type: Header['type'], content: Uint8Array, o: ItemOptions, defaults: { mode: number }, linkname?: string): TarItem {
  const header: TarItem['header'] = {
    name,
    type,
    mode: o.mode ?? defaults.mode,
    uid: o.uid ?? 0,
    gid: o.gid ?? 0,
    mtime: new Date((o.mtime ?? defaultMtime) * 1000),
    size: content.length,
    ...(linkname !== undefined && { linkname }),
    ...(o.pax !== undefined && { pax: o.pax }),
  };
  return { header, content };
}

const empty = new Uint8Array(0);
const utf8 = new TextEncoder();

/** Members, by kind. Names are passed through verbatim (`../x`, `/abs` included). */
export const t = {
  dir: (name: string, o: ItemOptions = {}): TarItem => item(name, 'directory', empty, o, { mode: 0o755 }),
  file: (name: string, content: string | Uint8Array = '', o: ItemOptions = {}): TarItem =>
    item(name, 'file', typeof content === 'string' ? utf8.encode(content) : content, o, { mode: 0o644 }),
  /** A symlink `name` holding `target` (containerd's argument order is target first too). */
  symlink: (target: string, name: string, o: ItemOptions = {}): TarItem => item(name, 'symlink', empty, o, { mode: 0o777 }, target),
  /** A hardlink `name` to the earlier member `target`. */
  link: (target: string, name: string, o: ItemOptions = {}): TarItem => item(name, 'link', empty, o, { mode: 0o644 }, target),
  /** A whiteout hiding `path` (`dir/.wh.name`). */
  whiteout: (path: string): TarItem => {
    const slash = path.lastIndexOf('/');
    return item(`${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`, 'file', empty, {}, { mode: 0o644 });
  },
  /** An opaque marker for directory `dir`. */
  opaque: (dir: string): TarItem => item(`${dir === '' ? '' : `${dir}/`}.wh..wh..opq`, 'file', empty, {}, { mode: 0o644 }),
  charDevice: (name: string): TarItem => item(name, 'character-device', empty, {}, { mode: 0o666 }),
  blockDevice: (name: string): TarItem => item(name, 'block-device', empty, {}, { mode: 0o660 }),
  fifo: (name: string): TarItem => item(name, 'fifo', empty, {}, { mode: 0o644 }),
};

/** Pack members into a tar (with the two end-of-archive blocks). */
export async function tar(...items: TarItem[]): Promise<Uint8Array> {
  const p = pack();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const chunk of p as AsyncIterable<Uint8Array>) chunks.push(chunk);
  })();
  for (const { header, content } of items) {
    await new Promise<void>((resolve, reject) => {
      p.entry(header, content, (error) => (error ? reject(error) : resolve()));
    });
  }
  p.finalize();
  await done;
  return concat(...chunks);
}

/** gzip bytes (Node's zlib). */
export function gzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes));
}

/**
 * A valid zstd frame holding `bytes` in raw blocks (no compression), with
 * the content checksum flag off. Node 20 has no zstd encoder; fzstd only
 * decodes, so tests build frames by hand (RFC 8878).
 */
export function zstdRaw(bytes: Uint8Array): Uint8Array {
  const parts: number[][] = [[0x28, 0xb5, 0x2f, 0xfd, 0x00, windowByte()]];
  const blocks: Uint8Array[] = [];
  const max = 128 * 1024;
  let at = 0;
  do {
    const size = Math.min(max, bytes.length - at);
    const last = at + size >= bytes.length ? 1 : 0;
    const header = (size << 3) | last;
    parts.push([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]);
    blocks.push(bytes.subarray(at, at + size));
    at += size;
  } while (at < bytes.length);
  return concatFrame(parts, blocks);
}

/**
 * A zstd bomb: one frame of `total` bytes of `value` in RLE blocks (4 bytes
 * each for 128 KiB), e.g. 100 MB in about 3 KB.
 */
export function zstdRle(total: number, value = 0): Uint8Array {
  const max = 128 * 1024;
  const out: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0x00, windowByte()];
  for (let at = 0; at < total; at += max) {
    const size = Math.min(max, total - at);
    const last = at + max >= total ? 1 : 0;
    const header = (size << 3) | (1 << 1) | last;
    out.push(header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, value);
  }
  return Uint8Array.from(out);
}

/** Window descriptor for a 1 MiB window (exponent 10 + 10). */
function windowByte(): number {
  return 10 << 3;
}

function concatFrame(headers: number[][], blocks: Uint8Array[]): Uint8Array {
  const size = headers.reduce((s, h) => s + h.length, 0) + blocks.reduce((s, b) => s + b.length, 0);
  const out = new Uint8Array(size);
  let at = 0;
  out.set(headers[0]!, at);
  at += headers[0]!.length;
  for (let i = 0; i < blocks.length; i++) {
    out.set(headers[i + 1]!, at);
    at += headers[i + 1]!.length;
    out.set(blocks[i]!, at);
    at += blocks[i]!.length;
  }
  return out;
}

/**
 * One raw 512-byte ustar header with a correct checksum, for malformed
 * tars: `fields` overrides name, size (octal text), typeflag, linkname.
 */
export function rawHeader(fields: { name?: string; size?: number | string; type?: string; linkname?: string; mode?: string; checksum?: 'bad' }): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, len: number, text: string) => h.set(utf8.encode(text).subarray(0, len), off);
  put(0, 100, fields.name ?? 'file');
  put(100, 8, fields.mode ?? '0000644\0');
  put(108, 8, '0000000\0');
  put(116, 8, '0000000\0');
  const size = fields.size ?? 0;
  put(124, 12, typeof size === 'number' ? `${size.toString(8).padStart(11, '0')}\0` : size);
  put(136, 12, '14544264000\0');
  put(156, 1, fields.type ?? '0');
  put(157, 100, fields.linkname ?? '');
  put(257, 8, 'ustar\u000000');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (fields.checksum === 'bad') sum += 1;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** A pax extended header member (header + records + padding) with the given records, raw. */
export function rawPax(records: Record<string, string>, type: 'x' | 'g' = 'x'): Uint8Array {
  let body = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len++;
    body += `${len}${rest}`;
  }
  const bytes = utf8.encode(body);
  return concat(rawHeader({ name: 'PaxHeader', size: bytes.length, type }), padded(bytes));
}

/** `bytes` padded with zeros to a multiple of 512. */
export function padded(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 512) * 512);
  out.set(bytes);
  return out;
}

/** Two zero blocks: the end of an archive. */
export const endOfArchive = new Uint8Array(1024);

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
