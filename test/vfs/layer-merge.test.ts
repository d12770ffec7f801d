import { describe, expect, it } from 'vitest';
import { LazyMerge } from '../../src/vfs/layer-merge.js';
import { buildLayerLayout, mergesLazily } from '../../src/vfs/layer-layout.js';
import { mergeEagerly } from '../../src/vfs/layer-view-eager.js';
import type { ViewDir } from '../../src/vfs/layer-view-nodes.js';
import { FsError, LayerView, type FileSystem, type LayerEntry, type LayerEntryKind, type LayerSource, type Node } from '../../src/vfs/index.js';
import { seededRandom as rng } from '../support/seeded-random.js';

/**
 * The lazy merge against the eager one, on random layer stacks: for every
 * stack `mergesLazily` accepts, both give the same tree — names in the
 * same readdir order, types, metadata, sizes, link counts, file bytes and
 * symlink targets — and the lazy numbers are unique and the same on every
 * build. A stack the eager merge refuses is never accepted.
 */


function source(entries: LayerEntry[]): LayerSource {
  return {
    entryCount: entries.length,
    entry: (i) => entries[i]!,
    read: (dst, dstOffset, length, position) => {
      // A file's bytes are its offset repeated: enough to tell files apart.
      for (let k = 0; k < length; k++) dst[dstOffset + k] = (position + k) & 0xff;
      return length;
    },
  };
}

/**
 * A random layer over names a, b, c (up to 3 deep). With `leaves`, files,
 * symlinks and hardlinks are named x or y and directories a, b or c, as in
 * the layers image builders make (few conflicts, so most stacks merge lazily).
 * Hardlinks mostly name a file of `files` (every file path made so far).
 */
function randomLayer(next: () => number, symlinks: boolean, links: boolean, leaves: boolean, files: string[]): LayerSource {
  const names = ['a', 'b', 'c'];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const dirPath = (): string => Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(names)).join('/');
  const leafPath = (): string => (next() < 0.3 ? '' : `${dirPath()}/`) + pick(['x', 'y']);
  const entries: LayerEntry[] = [];
  const count = 1 + Math.floor(next() * 10);
  for (let i = 0; i < count; i++) {
    const r = next();
    let kind: LayerEntryKind = r < 0.35 ? 'directory' : r < 0.7 ? 'file' : r < 0.8 ? 'whiteout' : r < 0.87 ? 'opaque' : r < 0.95 ? 'symlink' : 'hardlink';
    if (kind === 'symlink' && !symlinks) kind = 'file';
    if (kind === 'hardlink' && !links) kind = 'directory';
    const path = !leaves || kind === 'directory' || kind === 'opaque' ? dirPath : kind === 'whiteout' ? (next() < 0.5 ? dirPath : leafPath) : leafPath;
    const p = kind === 'opaque' && next() < 0.1 ? '' : path();
    entries.push({
      path: p,
      kind,
      mode: kind === 'directory' ? 0o700 + i : 0o600 + i,
      uid: i,
      gid: 2 * i,
      mtimeNs: BigInt(1000 + i),
      size: kind === 'file' ? 1 + i : 0,
      offset: kind === 'file' ? 100 * i : 0,
      linkTarget: kind === 'symlink' ? (next() < 0.5 ? '/' : '') + dirPath() : kind === 'hardlink' ? (files.length > 0 && next() < 0.8 ? pick(files) : leafPath()) : '',
    });
    if (kind === 'file') files.push(p);
  }
  return source(entries);
}

/** The tree as lines in readdir order, without inode numbers. */
function describeTree(root: ViewDir): { lines: string[]; inos: bigint[]; nodes: Node[] } {
  const lines: string[] = [];
  const inos: bigint[] = [];
  const nodes: Node[] = [];
  const walk = (dir: ViewDir, prefix: string): void => {
    const st = dir.stat();
    lines.push(`${prefix}/ ${st.mode} ${st.uid} ${st.gid} ${st.mtimeNs} nlink=${st.nlink} size=${st.size}`);
    inos.push(st.ino);
    nodes.push(dir);
    dir.readdir(2, (e) => {
      const node = dir.lookup(e.name)! as Node;
      expect(e.ino).toBe(node.ino);
      const p = `${prefix}/${e.name}`;
      if (node.type === 'directory') walk(node as ViewDir, p);
      else {
        const s = node.stat();
        inos.push(s.ino);
        nodes.push(node);
        let extra = '';
        if (node.type === 'symlink') extra = `-> ${node.target}`;
        else if (node.type === 'file') {
          const buf = new Uint8Array(s.size);
          node.read(buf, 0, s.size, 0);
          extra = `bytes=${buf.join(',')}`;
        }
        lines.push(`${p} ${node.type} ${s.mode} ${s.uid} ${s.gid} ${s.mtimeNs} nlink=${s.nlink} size=${s.size} ${extra}`);
      }
      return true;
    });
  };
  walk(root, '');
  return { lines, inos, nodes };
}

/** An FsError as `syscall errno path`. */
function failure(error: unknown): string {
  if (!(error instanceof FsError)) throw error;
  return `${error.syscall} ${error.errno} ${error.path}`;
}

const fs: FileSystem = new LayerView([], { dev: 1n });

describe('lazy layer merge', () => {
  it('gives the eager merge’s tree on every stack it accepts (random stacks)', () => {
    let lazy = 0;
    let refused = 0;
    let linkErrors = 0;
    let linked = 0;
    for (let seed = 1; seed <= 4000; seed++) {
      const next = rng(seed);
      const symlinks = seed % 3 === 0;
      const links = seed % 4 === 0;
      const files: string[] = [];
      const layers = Array.from({ length: 1 + Math.floor(next() * 4) }, () => randomLayer(next, symlinks, links, seed % 2 === 0, files));
      const layouts = layers.map(buildLayerLayout);
      let eager: { lines: string[] } | undefined;
      let eagerError: string | undefined;
      try {
        eager = describeTree(mergeEagerly(fs, layers).root);
      } catch (error) {
        eagerError = failure(error);
      }
      if (!mergesLazily(layouts)) {
        refused++;
        continue;
      }
      lazy++;
      if (eagerError !== undefined) {
        // Only a hardlink can fail in a lazy stack, with the same error.
        let lazyError: string | undefined;
        try {
          new LazyMerge(fs, layers, layouts);
        } catch (error) {
          lazyError = failure(error);
        }
        expect(lazyError, `seed ${seed}`).toBe(eagerError);
        expect(eagerError, `seed ${seed}`).toMatch(/^link /);
        linkErrors++;
        continue;
      }
      if (layouts.some((x) => x.hardlinkEntries.length > 0)) linked++;
      const one = describeTree(new LazyMerge(fs, layers, layouts).root());
      const two = describeTree(new LazyMerge(fs, layers, layouts).root());
      expect(one.lines, `seed ${seed}`).toEqual(eager!.lines);
      // Hardlinked names share a node; distinct nodes never share a number.
      expect(new Set(one.inos).size, `seed ${seed}: unique inode numbers`).toBe(new Set(one.nodes).size);
      expect(two.inos, `seed ${seed}: the same numbers every time`).toEqual(one.inos);
    }
    // Most random stacks are simple enough, and some are not.
    expect(lazy).toBeGreaterThan(2000);
    expect(refused).toBeGreaterThan(100);
    expect(linkErrors).toBeGreaterThan(100);
    expect(linked).toBeGreaterThan(100);
  });
});
