import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { BlobStore } from '../../src/oci/blob-store.js';
import { digestOf } from '../../src/oci/digest.js';
import { indexLayer, type IndexLayerOptions, type LayerIndex } from '../../src/oci/layer-index.js';
import type { DirNode, Node } from '../../src/vfs/index.js';

const made: string[] = [];
// Runs when this module is first imported during a test file's collection,
// so it registers for that file (vitest isolates each file's modules).
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed after the test file. */
export function tempDir(prefix = 'strata-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A blob store in a fresh temp directory. */
export async function tempStore(): Promise<BlobStore> {
  return BlobStore.open(tempDir('strata-store-'));
}

export const mediaTypes = {
  tar: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** Store each blob and index it, in order. */
export async function indexBlobs(store: BlobStore, blobs: readonly Uint8Array[], mediaType: string = mediaTypes.tar, options?: IndexLayerOptions): Promise<LayerIndex[]> {
  const out: LayerIndex[] = [];
  for (const blob of blobs) {
    const digest = await store.put(blob);
    out.push(await indexLayer(store, { digest, mediaType }, options));
  }
  return out;
}

/** What a tree comparison looks at, per path. */
export interface TreeEntry {
  readonly type: 'directory' | 'file' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size?: number;
  /** sha256 of a file's content (the text itself when short and printable). */
  readonly content?: string;
  readonly target?: string;
  /** Other paths naming the same inode (hardlinks), sorted. */
  readonly links?: readonly string[];
  /** Modification time in whole seconds. */
  readonly mtime: number;
}

export type Tree = Record<string, TreeEntry>;

function describeContent(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('utf8');
  if (bytes.length <= 64 && /^[\x20-\x7e\n]*$/.test(text)) return text;
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function withLinks(entries: Array<[string, TreeEntry, bigint | number]>): Tree {
  const byIno = new Map<bigint | number, string[]>();
  for (const [path, e, ino] of entries) if (e.type !== 'directory') byIno.set(ino, [...(byIno.get(ino) ?? []), path]);
  const tree: Tree = {};
  for (const [path, e, ino] of entries.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const others = e.type === 'directory' ? [] : byIno.get(ino)!.filter((p) => p !== path).sort();
    tree[path] = others.length > 0 ? { ...e, links: others } : e;
  }
  return tree;
}

/** The tree a VFS directory shows (a layer view root). */
export function viewTree(root: DirNode): Tree {
  const entries: Array<[string, TreeEntry, bigint]> = [];
  const walk = (dir: DirNode, prefix: string) => {
    dir.readdir(2, (e) => {
      const node: Node = dir.lookup(e.name)!;
      const path = prefix + e.name;
      const st = node.stat();
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Number(st.mtimeNs / 1_000_000_000n) };
      if (node.type === 'directory') {
        entries.push([path, { type: 'directory', ...base }, node.ino]);
        walk(node, `${path}/`);
      } else if (node.type === 'symlink') {
        entries.push([path, { type: 'symlink', ...base, mode: 0o777, target: node.target }, node.ino]);
      } else {
        const buf = new Uint8Array(node.size);
        node.read(buf, 0, buf.length, 0);
        entries.push([path, { type: 'file', ...base, size: node.size, content: describeContent(buf) }, node.ino]);
      }
      return true;
    });
  };
  walk(root, '');
  return withLinks(entries);
}

/** The tree a host directory holds (lstat, never following symlinks). */
export function hostTree(dir: string): Tree {
  const entries: Array<[string, TreeEntry, number]> = [];
  const walk = (abs: string, prefix: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const path = prefix + name;
      const st = lstatSync(p);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isDirectory()) {
        entries.push([path, { type: 'directory', ...base }, st.ino]);
        walk(p, `${path}/`);
      } else if (st.isSymbolicLink()) {
        entries.push([path, { type: 'symlink', ...base, mode: 0o777, target: readlinkSync(p) }, st.ino]);
      } else if (st.isFile()) {
        entries.push([path, { type: 'file', ...base, size: st.size, content: describeContent(readFileSync(p)) }, st.ino]);
      } else {
        entries.push([path, { type: 'other', ...base }, st.ino]);
      }
    }
  };
  walk(dir, '');
  return withLinks(entries);
}

/** Drop fields a comparison should not look at. */
export function project(tree: Tree, drop: ReadonlyArray<keyof TreeEntry>): Tree {
  const out: Tree = {};
  for (const [path, e] of Object.entries(tree)) {
    const copy: Record<string, unknown> = { ...e };
    for (const key of drop) delete copy[key];
    out[path] = copy as unknown as TreeEntry;
  }
  return out;
}

/** A snapshot of a directory's state (paths, types, contents, modes, times) to prove it untouched. */
export function fingerprint(dir: string): string {
  return digestOf(new TextEncoder().encode(JSON.stringify(hostTree(dir))));
}
