/**
 * Recount a tmpfs from its tree and compare with its counters: the check
 * every hostile-guest repro and the fuzz test run after the host survived.
 * It also checks the structure: every file's nlink is its number of
 * names, every directory's nlink is 2 plus its subdirectories, and every
 * directory's parent is the directory that names it.
 */
import { expect } from 'vitest';
import { entryCost, nodeMetadataBytes, type Tmpfs } from '../../src/vfs/tmpfs.js';
import { firstEntryCookie, type DirNode, type Node } from '../../src/vfs/index.js';

export interface Recount {
  readonly bytes: number;
  readonly inodes: number;
  readonly metadata: number;
  /** Structural faults found, as text (empty when sound). */
  readonly faults: readonly string[];
}

/**
 * Count what the tree of `fs` holds. `held` are nodes kept alive by open
 * descriptions, which may have no name any more.
 */
export function recount(fs: Tmpfs, held: Iterable<Node> = []): Recount {
  const names = new Map<Node, number>();
  const faults: string[] = [];
  let metadata = nodeMetadataBytes;
  let inodes = 1;
  const walk = (dir: DirNode, path: string) => {
    let subdirs = 0;
    const children: [string, Node][] = [];
    dir.readdir(firstEntryCookie, (entry) => {
      const child = dir.lookup(entry.name);
      if (child === undefined) faults.push(`${path}/${entry.name}: listed but not found`);
      else children.push([entry.name, child]);
      return true;
    });
    for (const [name, child] of children) {
      metadata += entryCost(name);
      const seen = names.get(child) ?? 0;
      names.set(child, seen + 1);
      if (child.type === 'directory') {
        subdirs++;
        if (seen === 0) {
          inodes++;
          metadata += nodeMetadataBytes;
          walk(child, `${path}/${name}`);
        }
      } else {
        inodes++;
        if (seen === 0) metadata += nodeMetadataBytes;
      }
    }
    const nlink = dir.stat().nlink;
    if (nlink !== 2 + subdirs) faults.push(`${path || '/'}: nlink ${nlink}, expected ${2 + subdirs}`);
  };
  walk(fs.root, '');
  let bytes = 0;
  for (const [node, count] of names) {
    if (node.type === 'directory') continue;
    bytes += node.stat().size;
    if (node.stat().nlink !== count) faults.push(`inode ${node.ino}: nlink ${node.stat().nlink}, ${count} names`);
  }
  for (const node of new Set(held)) {
    if (names.has(node) || node.type !== 'file' || node.fs !== fs) continue;
    inodes++;
    metadata += nodeMetadataBytes;
    bytes += node.stat().size;
  }
  return { bytes, inodes, metadata, faults };
}

/** Expect the counters of `fs` to equal a recount of its tree, and the tree to be sound. */
export function expectExactUsage(fs: Tmpfs, held: Iterable<Node> = [], what = 'after the call'): void {
  const r = recount(fs, held);
  expect(r.faults, `structure ${what}`).toEqual([]);
  expect({ ...fs.usage, metadata: fs.metadataBytes }, `counters ${what}`).toEqual({ bytes: r.bytes, inodes: r.inodes, metadata: r.metadata });
}
