import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireHold, liveLock, processAlive, type StoreLock } from './store-lock.js';

/**
 * The layout of the extracted-rootfs cache under a store, and its sweep by
 * gc. The trees are built by `cachedRootfs` (src/backends/rootfs.ts); the
 * layout lives here because the store's gc must read it and src/oci may
 * not import src/backends (docs/decisions.md, "gc collects the rootfs cache").
 *
 * ```
 * rootfs/<chainKey>/tree          the extracted chain (read-only once renamed in)
 * rootfs/<chainKey>/diffids       its diffIDs, one a line: what gc checks
 * rootfs/<chainKey>/holds/NAME    one file per user (pid, host) that gc must not pull it from under
 * rootfs/.tmp-rootfs.PID.HEX      a tree being built (renamed to <chainKey> whole)
 * rootfs/.gc.PID.HEX              a tree gc took out of the cache and is deleting
 * ```
 */
export const rootfsCacheDirName = 'rootfs';

/** The file beside each cached tree that lists its chain's diffIDs (see {@link rootfsChainText}). */
export const rootfsChainFile = 'diffids';

/**
 * The cache key of a chain of layers: the sha256 of their diffIDs in order.
 * Two manifests over the same layers share one extracted tree.
 */
export function chainKey(diffIDs: readonly string[]): string {
  return createHash('sha256').update(diffIDs.join('\n')).digest('hex');
}

/** `<root>/rootfs`. */
export function rootfsCacheDir(root: string): string {
  return join(root, rootfsCacheDirName);
}

/** `<root>/rootfs/<chainKey>`: a chain's cache entry (its tree, its diffIDs, its holds). */
export function rootfsEntryDir(root: string, diffIDs: readonly string[]): string {
  return join(rootfsCacheDir(root), chainKey(diffIDs));
}

/** `<root>/rootfs/<chainKey>/tree`: a chain's extracted tree. */
export function rootfsTreePath(root: string, diffIDs: readonly string[]): string {
  return join(rootfsEntryDir(root, diffIDs), 'tree');
}

/** A fresh temp entry to build a chain in, named so gc knows its builder: `<root>/rootfs/.tmp-rootfs.PID.HEX`. */
export function rootfsTempDir(root: string): string {
  return join(rootfsCacheDir(root), `.tmp-rootfs.${process.pid}.${randomBytes(6).toString('hex')}`);
}

/** The contents of an entry's `diffids` file. */
export function rootfsChainText(diffIDs: readonly string[]): string {
  return `${diffIDs.join('\n')}\n`;
}

/**
 * Hold a chain's cached tree: gc does not remove it until `release()` (or
 * until this process dies). The tree must exist, and the caller must hold
 * a store lease (`ImageStore.lease`) while it takes the hold, so no gc is
 * sweeping in between.
 */
export function holdRootfsTree(root: string, diffIDs: readonly string[]): Promise<StoreLock> {
  return acquireHold(join(rootfsEntryDir(root, diffIDs), 'holds', `${process.pid}.${randomBytes(6).toString('hex')}`));
}

/** What {@link sweepRootfsCache} removed. */
export interface RootfsSweep {
  /** Cached trees whose chain is no longer kept. */
  readonly treesRemoved: number;
  /** Half-built trees and half-deleted ones of dead processes. */
  readonly tempRemoved: number;
  readonly bytesFreed: number;
}

/**
 * Remove every cached tree whose chain has a diffID that `kept` refuses,
 * or whose `diffids` file is missing or does not hash to its key (not a
 * complete entry); keep every tree with a live hold; remove temp entries
 * of dead processes. A tree is renamed out of the cache before it is
 * deleted, so a crash mid-delete never leaves a partial tree under its key.
 *
 * Call it only under the store's gc lock (`acquireGcLock`), which waits
 * for every lease: no tree is then being built, and no hold being taken.
 * `size` counts an inode's bytes once across the whole gc (it returns 0
 * for one already counted).
 *
 * Errors: those of removing files (EACCES, EBUSY); none for a missing cache.
 */
export async function sweepRootfsCache(root: string, kept: (diffID: string) => boolean, size: (path: string) => Promise<number>): Promise<RootfsSweep> {
  const base = rootfsCacheDir(root);
  let treesRemoved = 0;
  let tempRemoved = 0;
  let bytesFreed = 0;
  for (const name of await readdir(base).catch(() => [] as string[])) {
    const path = join(base, name);
    if (name.startsWith('.tmp-') || name.startsWith('.gc.')) {
      // A name without a pid (`.tmp-<uuid>`, from before temp names carried one) is abandoned too: no builder runs under the gc lock.
      const pid = /\.(\d+)\.[0-9a-f]+$/.exec(name)?.[1];
      if (pid !== undefined && processAlive(Number(pid))) continue;
      bytesFreed += await removeTree(path, size);
      tempRemoved++;
      continue;
    }
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    if (await held(join(path, 'holds'))) continue;
    const chain = await readChain(join(path, rootfsChainFile));
    if (chain !== undefined && chainKey(chain) === name && chain.every(kept)) continue;
    const doomed = join(base, `.gc.${process.pid}.${randomBytes(6).toString('hex')}`);
    await rename(path, doomed);
    bytesFreed += await removeTree(doomed, size);
    treesRemoved++;
  }
  return { treesRemoved, tempRemoved, bytesFreed };
}

/** Whether any hold under `dir` is alive (stale ones are removed on the way). */
async function held(dir: string): Promise<boolean> {
  let alive = false;
  for (const name of await readdir(dir).catch(() => [] as string[])) if (await liveLock(join(dir, name))) alive = true;
  return alive;
}

async function readChain(path: string): Promise<string[] | undefined> {
  try {
    const lines = (await readFile(path, 'utf8')).split('\n');
    if (lines.pop() !== '') return undefined;
    return lines.every((l) => /^sha256:[0-9a-f]{64}$/.test(l)) ? lines : undefined;
  } catch {
    return undefined;
  }
}

/** Delete a directory tree; returns the bytes of its non-directory entries (each inode once, through `size`). */
async function removeTree(dir: string, size: (path: string) => Promise<number>): Promise<number> {
  const bytes = await treeBytes(dir, size);
  await rm(dir, { recursive: true, force: true });
  return bytes;
}

async function treeBytes(path: string, size: (path: string) => Promise<number>): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return 0;
  if (!info.isDirectory()) return size(path);
  // An image's directory may be 0555 (or less): unprivileged, it must be ours to enter and empty.
  if (process.getuid?.() !== 0 && (info.mode & 0o700) !== 0o700) await chmod(path, (info.mode & 0o7777) | 0o700);
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await treeBytes(join(path, name), size);
  return total;
}
