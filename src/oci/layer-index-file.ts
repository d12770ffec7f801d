import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { LayerLayout } from '../vfs/index.js';
import { parseDigest, type Digest } from './digest.js';
import { entrySections, PagedColumns, type Section } from './layer-index-pages.js';
import type { LayerIndex } from './layer-index.js';

/**
 * The cache file of a layer index: `SLIX`, a format version, a JSON header,
 * then sections of raw little-endian typed arrays, each starting on an
 * 8-byte boundary:
 * 1. what a view needs when it is created, all as long as the number of
 *    directory groups or less: the groups of the layer's
 *    {@link LayerLayout} (children, entry starts, first additions, names),
 *    the exposed-path hashes, the hardlink and the deletion entries, the
 *    groups by path hash;
 * 2. the entry columns (kind, mode, uid, gid, mtime, size, offset, and the
 *    start of each path and link target), then the UTF-8 bytes of the
 *    paths and of the link targets;
 * 3. the rest of the layout, as long as the layer: each group's entries,
 *    the non-directory path hashes and the entries by path hash.
 *
 * {@link openIndexFile} reads the header and part 1 only; parts 2 and 3
 * are read when first used ({@link PagedColumns}), so opening a cached
 * index costs the same for a thousand entries or a million. The file is a
 * cache: anything unexpected when it is opened makes {@link openIndexFile}
 * return undefined and the caller re-indexes the blob.
 *
 * Version 4 (3 without the deletion list) reads entries and groups on
 * demand; older files are a miss, so they are rebuilt.
 */

const magic = 0x58494c53; // 'SLIX' read as little-endian u32
const version = 4;

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
  deletions: number;
}

type Ctor = Uint8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | Float64ArrayConstructor;

/** Sections read when the file is opened (part 1), in file order. */
function openSections(h: Header): Array<[string, Ctor, number]> {
  const g = h.groups;
  return [
    ['groupFirstChild', Uint32Array, g],
    ['groupChildCount', Uint32Array, g],
    ['groupEntryStart', Uint32Array, g + 1],
    ['groupFirstAdd', Uint32Array, g],
    ['groupNameStart', Uint32Array, g + 1],
    ['groupNameBytes', Uint8Array, h.groupNameBytes],
    ['exposedHashes', Uint32Array, h.exposed],
    ['hardlinkEntries', Uint32Array, h.hardlinks],
    ['deletionEntries', Uint32Array, h.deletions],
    ['groupByHash', Uint32Array, g],
    ['groupHashes', Uint32Array, g],
  ];
}

/** Sections read on demand (parts 2 and 3), in file order. */
function laterSections(h: Header): Array<[string, Ctor, number]> {
  const n = h.count;
  return [
    ...entrySections.map(([name, C]): [string, Ctor, number] => [name, C, name === 'pathStart' || name === 'linkStart' ? n + 1 : n]),
    ['pathBytes', Uint8Array, h.pathBytes],
    ['linkBytes', Uint8Array, h.linkBytes],
    ['groupEntries', Uint32Array, h.groupEntries],
    ['nonDirHashes', Uint32Array, h.nonDir],
    ['byHash', Uint32Array, n],
    ['entryHashes', Uint32Array, n],
  ];
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** Serialize an index. */
export function encodeIndex(index: LayerIndex): Uint8Array {
  const c = index.columns;
  const layout = index.layout;
  const names: string[] = [];
  const grouped: Uint32Array[] = [];
  for (let g = 0; g < layout.groupCount; g++) {
    names.push(layout.groupName(g));
    grouped.push(layout.groupEntries(g));
  }
  const groupNameStart = new Uint32Array(names.length + 1);
  for (let g = 0, at = 0; g <= names.length; g++) {
    groupNameStart[g] = at;
    if (g < names.length) at += Buffer.byteLength(names[g]!);
  }
  const groupEntries = new Uint32Array(grouped.reduce((n, a) => n + a.length, 0));
  grouped.reduce((at, a) => (groupEntries.set(a, at), at + a.length), 0);
  const groupNameBytes = Buffer.from(names.join(''));
  const arrays: Record<string, ArrayBufferView> = {
    kinds: c.kinds,
    modes: c.modes,
    uids: c.uids,
    gids: c.gids,
    mtimeSec: c.mtimeSec,
    mtimeNsec: c.mtimeNsec,
    sizes: c.sizes,
    offsets: c.offsets,
    pathStart: c.pathStart,
    linkStart: c.linkStart,
    pathBytes: c.pathBytes,
    linkBytes: c.linkBytes,
    groupFirstChild: layout.groupFirstChild,
    groupChildCount: layout.groupChildCount,
    groupEntryStart: layout.groupEntryStart,
    groupEntries,
    groupFirstAdd: layout.groupFirstAdd,
    groupNameStart,
    groupNameBytes,
    nonDirHashes: layout.nonDirHashes,
    exposedHashes: layout.exposedHashes,
    hardlinkEntries: layout.hardlinkEntries,
    deletionEntries: layout.deletionEntries,
    groupByHash: layout.groupByHash,
    groupHashes: layout.groupHashes,
    byHash: layout.byHash,
    entryHashes: layout.entryHashes,
  };
  const header: Header = {
    diffID: index.diffID,
    dataSize: index.dataSize,
    count: index.entryCount,
    skipped: [...index.skipped],
    xattrs: [...c.xattrs].map(([i, map]) => [i, [...map].map(([k, v]) => [k, Buffer.from(v).toString('base64')] as [string, string])]),
    pathBytes: c.pathBytes.length,
    linkBytes: c.linkBytes.length,
    groups: layout.groupCount,
    groupEntries: groupEntries.length,
    groupNameBytes: groupNameBytes.length,
    nonDir: layout.nonDirHashes.length,
    exposed: layout.exposedHashes.length,
    rootEntry: layout.rootEntry,
    selfConflict: layout.selfConflict,
    hardlinks: layout.hardlinkEntries.length,
    deletions: layout.deletionEntries.length,
  };
  const head = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(pad8(12 + head.length));
  prefix.writeUInt32LE(magic, 0);
  prefix.writeUInt32LE(version, 4);
  prefix.writeUInt32LE(head.length, 8);
  head.copy(prefix, 12);
  const parts: Uint8Array[] = [prefix];
  for (const [name] of [...openSections(header), ...laterSections(header)]) {
    const a = arrays[name]!;
    parts.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    if (a.byteLength % 8 !== 0) parts.push(new Uint8Array(8 - (a.byteLength % 8)));
  }
  return Buffer.concat(parts);
}

/** An opened cache file: what it says, its layout, and its entries read on demand. */
export interface OpenedIndexFile {
  readonly diffID: Digest;
  readonly dataSize: number;
  readonly skipped: string[];
  readonly layout: LayerLayout;
  /** The entries, read from the file on first use. */
  readonly columns: PagedColumns;
}

/** Open a cache file: its header and the sections a view needs first; undefined if it is missing or not a valid index file. */
export function openIndexFile(path: string): OpenedIndexFile | undefined {
  if (!littleEndian) return undefined;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return open(path, fd);
  } catch {
    return undefined;
  } finally {
    // Entries are read later through a descriptor of their own, opened on first use.
    closeSync(fd);
  }
}

function open(path: string, fd: number): OpenedIndexFile | undefined {
  const size = fstatSync(fd).size;
  const prefix = readAt(fd, 0, 12);
  if (prefix.readUInt32LE(0) !== magic || prefix.readUInt32LE(4) !== version) return undefined;
  const headLen = prefix.readUInt32LE(8);
  const header = JSON.parse(readAt(fd, 12, headLen).toString('utf8')) as Header;
  const counts = [header.count, header.dataSize, header.pathBytes, header.linkBytes, header.groups, header.groupEntries, header.groupNameBytes, header.nonDir, header.exposed, header.hardlinks, header.deletions];
  if (!counts.every((x) => Number.isSafeInteger(x) && x >= 0) || header.groups < 1 || !Number.isSafeInteger(header.rootEntry)) return undefined;
  const n = header.count;
  const g = header.groups;
  if (header.rootEntry < -1 || header.rootEntry >= n) return undefined;
  const sections = new Map<string, Section>();
  const start = pad8(12 + headLen);
  let at = start;
  for (const [name, C, length] of [...openSections(header), ...laterSections(header)]) {
    sections.set(name, { at, length: length * C.BYTES_PER_ELEMENT });
    at = pad8(at + length * C.BYTES_PER_ELEMENT);
  }
  if (at > size) return undefined;
  // Part 1, in one read; every array of it is checked here (O(groups)).
  const first = openSections(header);
  const endOfFirst = sections.get(first[first.length - 1]![0])!;
  const block = readAt(fd, start, endOfFirst.at + endOfFirst.length - start);
  const a: Record<string, Uint8Array | Uint32Array> = {};
  for (const [name, C, length] of first) a[name] = new C(block.buffer as ArrayBuffer, block.byteOffset + sections.get(name)!.at - start, length) as Uint8Array | Uint32Array;
  const u32 = (name: string) => a[name] as Uint32Array;
  const firstChild = u32('groupFirstChild');
  const childCount = u32('groupChildCount');
  // Children have larger ids than their parent (breadth-first numbering).
  for (let k = 0; k < g; k++) if (childCount[k]! > 0 && (firstChild[k]! <= k || firstChild[k]! + childCount[k]! > g)) return undefined;
  if (!ascending(u32('groupEntryStart'), header.groupEntries) || !ascending(u32('groupNameStart'), header.groupNameBytes)) return undefined;
  for (const name of ['hardlinkEntries', 'deletionEntries']) for (const i of u32(name)) if (i >= n) return undefined;
  for (const k of u32('groupByHash')) if (k >= g) return undefined;
  const xattrs = new Map(header.xattrs.map(([i, list]) => [i, new Map(list.map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]))] as const));
  const columns = new PagedColumns(path, size, n, sections, xattrs);
  const nameStart = u32('groupNameStart');
  const nameBytes = Buffer.from(a['groupNameBytes']!.buffer as ArrayBuffer, a['groupNameBytes']!.byteOffset, a['groupNameBytes']!.byteLength);
  const entryStart = u32('groupEntryStart');
  let nonDir: Uint32Array | undefined;
  let byHash: Uint32Array | undefined;
  let entryHashes: Uint32Array | undefined;
  const layout: LayerLayout = {
    groupCount: g,
    groupName: (k) => nameBytes.toString('utf8', nameStart[k]!, nameStart[k + 1]!),
    groupFirstChild: firstChild,
    groupChildCount: childCount,
    groupEntryStart: entryStart,
    groupEntries: (k) => columns.u32('groupEntries', entryStart[k]!, entryStart[k + 1]! - entryStart[k]!, n),
    groupFirstAdd: u32('groupFirstAdd'),
    rootEntry: header.rootEntry,
    get nonDirHashes() {
      return (nonDir ??= columns.u32('nonDirHashes', 0, header.nonDir, 2 ** 32));
    },
    exposedHashes: u32('exposedHashes'),
    selfConflict: header.selfConflict === true,
    hardlinkEntries: u32('hardlinkEntries'),
    deletionEntries: u32('deletionEntries'),
    groupByHash: u32('groupByHash'),
    groupHashes: u32('groupHashes'),
    get byHash() {
      // Each entry number is checked where it is used (layer-links.ts).
      return (byHash ??= columns.u32('byHash', 0, n, 2 ** 32));
    },
    get entryHashes() {
      return (entryHashes ??= columns.u32('entryHashes', 0, n, 2 ** 32));
    },
  };
  return { diffID: parseDigest(header.diffID), dataSize: header.dataSize, skipped: header.skipped, layout, columns };
}

/** `length` bytes at `position` of `fd`, in a fresh (8-byte aligned) buffer. */
function readAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.from(new ArrayBuffer(length));
  let done = 0;
  while (done < length) {
    const got = readSync(fd, out, done, length - done, position + done);
    if (got === 0) throw new Error('short read');
    done += got;
  }
  return out;
}

/** `a` never decreases, starts at 0 and ends at `end`. */
function ascending(a: Uint32Array, end: number): boolean {
  if (a[0] !== 0 || a[a.length - 1] !== end) return false;
  for (let i = 1; i < a.length; i++) if (a[i]! < a[i - 1]!) return false;
  return true;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
