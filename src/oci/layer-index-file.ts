import type { LayerLayout } from '../vfs/index.js';
import { parseDigest, type Digest } from './digest.js';
import { kindCodes, type IndexColumns } from './layer-columns.js';
import type { LayerIndex } from './layer-index.js';

/**
 * The cache file of a layer index: `SLIX`, a format version, a JSON header,
 * then sections of raw little-endian typed arrays, each starting on an
 * 8-byte boundary: the entry columns, the UTF-8 bytes of the paths and link
 * targets with their start offsets, and the entries grouped by directory
 * (the layer's {@link LayerLayout}). Loading makes typed arrays over the
 * file's bytes without copying them or decoding a string, and checks only
 * that every offset and id stays in range, so a cached image becomes a view
 * in time that hardly grows with its entries. The file is a cache: anything
 * unexpected makes {@link decodeIndex} return undefined and the caller
 * re-indexes the blob.
 *
 * Version 2 added the directory groups and the string offsets; a version 1
 * file is a miss, so it is rebuilt.
 */

const magic = 0x58494c53; // 'SLIX' read as little-endian u32
const version = 2;

interface Header {
  diffID: string;
  dataSize: number;
  count: number;
  skipped: string[];
  xattrs: Array<[number, Array<[string, string]>]>;
  pathBytes: number;
  linkBytes: number;
  groups: number;
  groupEntries: number;
  groupNameBytes: number;
  nonDir: number;
  exposed: number;
  rootEntry: number;
  selfConflict: boolean;
  hardlinks: number;
}

type Ctor = Uint8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | Float64ArrayConstructor;

/** The sections, in file order, with their element type and length. */
function sections(h: Header): Array<[string, Ctor, number]> {
  const n = h.count;
  const g = h.groups;
  return [
    ['kinds', Uint8Array, n],
    ['modes', Uint16Array, n],
    ['uids', Uint32Array, n],
    ['gids', Uint32Array, n],
    ['mtimeSec', Float64Array, n],
    ['mtimeNsec', Uint32Array, n],
    ['sizes', Float64Array, n],
    ['offsets', Float64Array, n],
    ['pathStart', Uint32Array, n + 1],
    ['pathBytes', Uint8Array, h.pathBytes],
    ['linkStart', Uint32Array, n + 1],
    ['linkBytes', Uint8Array, h.linkBytes],
    ['groupFirstChild', Uint32Array, g],
    ['groupChildCount', Uint32Array, g],
    ['groupEntryStart', Uint32Array, g + 1],
    ['groupEntries', Uint32Array, h.groupEntries],
    ['groupFirstAdd', Uint32Array, g],
    ['groupNameStart', Uint32Array, g + 1],
    ['groupNameBytes', Uint8Array, h.groupNameBytes],
    ['nonDirHashes', Uint32Array, h.nonDir],
    ['exposedHashes', Uint32Array, h.exposed],
    ['hardlinkEntries', Uint32Array, h.hardlinks],
    ['byPath', Uint32Array, n],
  ];
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** Serialize an index. */
export function encodeIndex(index: LayerIndex): Uint8Array {
  const c = index.columns;
  const layout = index.layout;
  const names: string[] = [];
  for (let g = 0; g < layout.groupCount; g++) names.push(layout.groupName(g));
  const groupNameStart = new Uint32Array(names.length + 1);
  for (let g = 0, at = 0; g <= names.length; g++) {
    groupNameStart[g] = at;
    if (g < names.length) at += Buffer.byteLength(names[g]!);
  }
  const arrays: Record<string, ArrayBufferView> = {
    ...c,
    pathBytes: c.pathBytes,
    linkBytes: c.linkBytes,
    groupFirstChild: layout.groupFirstChild,
    groupChildCount: layout.groupChildCount,
    groupEntryStart: layout.groupEntryStart,
    groupEntries: layout.groupEntries,
    groupFirstAdd: layout.groupFirstAdd,
    groupNameStart,
    groupNameBytes: Buffer.from(names.join('')),
    nonDirHashes: layout.nonDirHashes,
    exposedHashes: layout.exposedHashes,
    hardlinkEntries: layout.hardlinkEntries,
    byPath: layout.byPath,
  } as unknown as Record<string, ArrayBufferView>;
  const header: Header = {
    diffID: index.diffID,
    dataSize: index.dataSize,
    count: index.entryCount,
    skipped: [...index.skipped],
    xattrs: [...c.xattrs].map(([i, map]) => [i, [...map].map(([k, v]) => [k, Buffer.from(v).toString('base64')] as [string, string])]),
    pathBytes: c.pathBytes.length,
    linkBytes: c.linkBytes.length,
    groups: layout.groupCount,
    groupEntries: layout.groupEntries.length,
    groupNameBytes: arrays['groupNameBytes']!.byteLength,
    nonDir: layout.nonDirHashes.length,
    exposed: layout.exposedHashes.length,
    rootEntry: layout.rootEntry,
    selfConflict: layout.selfConflict,
    hardlinks: layout.hardlinkEntries.length,
  };
  const head = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(pad8(12 + head.length));
  prefix.writeUInt32LE(magic, 0);
  prefix.writeUInt32LE(version, 4);
  prefix.writeUInt32LE(head.length, 8);
  head.copy(prefix, 12);
  const parts: Uint8Array[] = [prefix];
  for (const [name] of sections(header)) {
    const a = arrays[name]!;
    parts.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    if (a.byteLength % 8 !== 0) parts.push(new Uint8Array(8 - (a.byteLength % 8)));
  }
  return Buffer.concat(parts);
}

/** Deserialize an index, or undefined if the bytes are not a valid index file. */
export function decodeIndex(bytes: Uint8Array): { diffID: Digest; dataSize: number; columns: IndexColumns; layout: LayerLayout; skipped: string[] } | undefined {
  try {
    if (!littleEndian) return undefined;
    let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 12 || buf.readUInt32LE(0) !== magic || buf.readUInt32LE(4) !== version) return undefined;
    // Typed arrays over the bytes need them 8-byte aligned: copy once if not.
    if (buf.byteOffset % 8 !== 0) buf = Buffer.from(new Uint8Array(buf).buffer);
    const headLen = buf.readUInt32LE(8);
    const header = JSON.parse(buf.subarray(12, 12 + headLen).toString('utf8')) as Header;
    const counts = [header.count, header.dataSize, header.pathBytes, header.linkBytes, header.groups, header.groupEntries, header.groupNameBytes, header.nonDir, header.exposed, header.hardlinks];
    if (!counts.every((x) => Number.isSafeInteger(x) && x >= 0) || header.groups < 1 || !Number.isSafeInteger(header.rootEntry)) return undefined;
    let at = pad8(12 + headLen);
    const a: Record<string, Uint8Array | Uint16Array | Uint32Array | Float64Array> = {};
    for (const [name, Ctor, length] of sections(header)) {
      const len = length * Ctor.BYTES_PER_ELEMENT;
      if (at + len > buf.length) return undefined;
      a[name] = new Ctor(buf.buffer as ArrayBuffer, buf.byteOffset + at, length);
      at = pad8(at + len);
    }
    const n = header.count;
    const g = header.groups;
    const u32 = (name: string) => a[name] as Uint32Array;
    const kinds = a['kinds'] as Uint8Array;
    for (let i = 0; i < n; i++) if (kinds[i]! >= kindCodes.length) return undefined;
    if (!ascending(u32('pathStart'), header.pathBytes) || !ascending(u32('linkStart'), header.linkBytes)) return undefined;
    if (!ascending(u32('groupEntryStart'), header.groupEntries) || !ascending(u32('groupNameStart'), header.groupNameBytes)) return undefined;
    if (!below(u32('groupEntries'), n) || !below(u32('hardlinkEntries'), n) || !below(u32('byPath'), n)) return undefined;
    const firstChild = u32('groupFirstChild');
    const childCount = u32('groupChildCount');
    // Children have larger ids than their parent (breadth-first numbering).
    for (let k = 0; k < g; k++) if (childCount[k]! > 0 && (firstChild[k]! <= k || firstChild[k]! + childCount[k]! > g)) return undefined;
    if (header.rootEntry < -1 || header.rootEntry >= n) return undefined;
    const bytesOf = (name: string) => Buffer.from(a[name]!.buffer as ArrayBuffer, a[name]!.byteOffset, a[name]!.byteLength);
    const columns: IndexColumns = {
      kinds,
      modes: a['modes'] as Uint16Array,
      uids: u32('uids'),
      gids: u32('gids'),
      mtimeSec: a['mtimeSec'] as Float64Array,
      mtimeNsec: u32('mtimeNsec'),
      sizes: a['sizes'] as Float64Array,
      offsets: a['offsets'] as Float64Array,
      pathStart: u32('pathStart'),
      pathBytes: bytesOf('pathBytes'),
      linkStart: u32('linkStart'),
      linkBytes: bytesOf('linkBytes'),
      xattrs: new Map(header.xattrs.map(([i, list]) => [i, new Map(list.map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]))])),
    };
    const nameStart = u32('groupNameStart');
    const nameBytes = bytesOf('groupNameBytes');
    const layout: LayerLayout = {
      groupCount: g,
      groupName: (k) => nameBytes.toString('utf8', nameStart[k]!, nameStart[k + 1]!),
      groupFirstChild: firstChild,
      groupChildCount: childCount,
      groupEntryStart: u32('groupEntryStart'),
      groupEntries: u32('groupEntries'),
      groupFirstAdd: u32('groupFirstAdd'),
      rootEntry: header.rootEntry,
      nonDirHashes: u32('nonDirHashes'),
      exposedHashes: u32('exposedHashes'),
      selfConflict: header.selfConflict === true,
      hardlinkEntries: u32('hardlinkEntries'),
      byPath: u32('byPath'),
    };
    return { diffID: parseDigest(header.diffID), dataSize: header.dataSize, columns, layout, skipped: header.skipped };
  } catch {
    return undefined;
  }
}

/** `a` never decreases, starts at 0 and ends at `end`. */
function ascending(a: Uint32Array, end: number): boolean {
  if (a[0] !== 0 || a[a.length - 1] !== end) return false;
  for (let i = 1; i < a.length; i++) if (a[i]! < a[i - 1]!) return false;
  return true;
}

/** Every value of `a` is below `n`. */
function below(a: Uint32Array, n: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i]! >= n) return false;
  return true;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
