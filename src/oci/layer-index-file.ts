import { LayerEntryKind } from '../vfs/index.js';
import { parseDigest, type Digest } from './digest.js';
import type { IndexColumns, LayerIndex } from './layer-index.js';

/**
 * The cache file of a layer index: `SLIX`, a format version, a JSON header,
 * then the columns as raw little-endian typed arrays and the paths as
 * NUL-separated UTF-8 (a path never holds a NUL). Loading copies the
 * columns out without parsing numbers, so a cached image becomes a view
 * fast. The file is a cache: anything unexpected makes {@link decodeIndex}
 * return undefined and the caller re-indexes the blob.
 */

/** Kind codes in {@link IndexColumns.kinds} (part of the file format). */
export const kindCodes: readonly LayerEntryKind[] = [
  LayerEntryKind.directory,
  LayerEntryKind.file,
  LayerEntryKind.symlink,
  LayerEntryKind.hardlink,
  LayerEntryKind.whiteout,
  LayerEntryKind.opaque,
];

const magic = 0x58494c53; // 'SLIX' read as little-endian u32
const version = 1;

interface Header {
  diffID: string;
  dataSize: number;
  count: number;
  skipped: string[];
  links: Array<[number, string]>;
  xattrs: Array<[number, Array<[string, string]>]>;
}

const numeric = [
  ['kinds', Uint8Array],
  ['modes', Uint16Array],
  ['uids', Uint32Array],
  ['gids', Uint32Array],
  ['mtimeSec', Float64Array],
  ['mtimeNsec', Uint32Array],
  ['sizes', Float64Array],
  ['offsets', Float64Array],
] as const;

type NumericName = (typeof numeric)[number][0];

/** Serialize an index. */
export function encodeIndex(index: LayerIndex): Uint8Array {
  const c = index.columns;
  const header: Header = {
    diffID: index.diffID,
    dataSize: index.dataSize,
    count: index.entryCount,
    skipped: [...index.skipped],
    links: [...c.links],
    xattrs: [...c.xattrs].map(([i, map]) => [i, [...map].map(([k, v]) => [k, Buffer.from(v).toString('base64')] as [string, string])]),
  };
  const head = Buffer.from(JSON.stringify(header));
  const paths = Buffer.from(c.paths.join('\0'));
  const parts: Uint8Array[] = [];
  const prefix = Buffer.alloc(12);
  prefix.writeUInt32LE(magic, 0);
  prefix.writeUInt32LE(version, 4);
  prefix.writeUInt32LE(head.length, 8);
  parts.push(prefix, head);
  for (const [name] of numeric) {
    const a = c[name];
    parts.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  parts.push(paths);
  return Buffer.concat(parts);
}

/** Deserialize an index, or undefined if the bytes are not a valid index file. */
export function decodeIndex(bytes: Uint8Array): { diffID: Digest; dataSize: number; columns: IndexColumns; skipped: string[] } | undefined {
  try {
    if (!littleEndian) return undefined;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 12 || buf.readUInt32LE(0) !== magic || buf.readUInt32LE(4) !== version) return undefined;
    const headLen = buf.readUInt32LE(8);
    const header = JSON.parse(buf.subarray(12, 12 + headLen).toString('utf8')) as Header;
    const n = header.count;
    if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(header.dataSize)) return undefined;
    let at = 12 + headLen;
    const cols: Partial<Record<NumericName, Uint8Array | Uint16Array | Uint32Array | Float64Array>> = {};
    for (const [name, Ctor] of numeric) {
      const len = n * Ctor.BYTES_PER_ELEMENT;
      if (at + len > buf.length) return undefined;
      const a = new Ctor(n);
      new Uint8Array(a.buffer).set(buf.subarray(at, at + len));
      cols[name] = a;
      at += len;
    }
    const paths = n === 0 ? [] : buf.subarray(at).toString('utf8').split('\0');
    if (paths.length !== n) return undefined;
    const kinds = cols.kinds as Uint8Array;
    for (let i = 0; i < n; i++) if (kinds[i]! >= kindCodes.length) return undefined;
    const columns: IndexColumns = {
      paths,
      kinds,
      modes: cols.modes as Uint16Array,
      uids: cols.uids as Uint32Array,
      gids: cols.gids as Uint32Array,
      mtimeSec: cols.mtimeSec as Float64Array,
      mtimeNsec: cols.mtimeNsec as Uint32Array,
      sizes: cols.sizes as Float64Array,
      offsets: cols.offsets as Float64Array,
      links: new Map(header.links),
      xattrs: new Map(header.xattrs.map(([i, list]) => [i, new Map(list.map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]))])),
    };
    return { diffID: parseDigest(header.diffID), dataSize: header.dataSize, columns, skipped: header.skipped };
  } catch {
    return undefined;
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
