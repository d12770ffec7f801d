import { FsError } from '../vfs/index.js';
import { toFsError } from './sandbox-fs-stats.js';

/** Options of {@link SandboxFs.copyIn}, {@link SandboxFs.copyOut} and {@link SandboxFs.cp}. */
export interface SandboxCopyOptions {
  /** Copy directories and everything under them. Without it a directory is EISDIR. */
  readonly recursive?: boolean;
  /**
   * Called with each source path and the path it would be copied to (the
   * top one included); returning false skips the entry and, for a
   * directory, everything under it. Use it to leave out `/dev`.
   */
  readonly filter?: (source: string, destination: string) => boolean | Promise<boolean>;
}

/** Bytes moved per read and write of a copy: the one buffer a copy holds. */
export const copyChunkBytes = 1 << 20;

/** Reads a file being copied, chunk by chunk. */
export interface ChunkReader {
  /** Fill `into` from `position`; 0 at the end. */
  read(into: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/** One entry of the tree being copied, on the host or in a sandbox. */
export interface SourceEntry {
  /** The path errors and `filter` name. */
  readonly path: string;
  /** The last component of `path`. */
  readonly name: string;
  /** `other`: a device, FIFO or socket, which no copy reproduces. */
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  /** Permission bits. */
  readonly mode: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  /** Identity of a file with several names, so its copies stay hard-linked. */
  readonly linkKey: string | undefined;
  children(): Promise<SourceEntry[]>;
  readlink(): Promise<string>;
  open(): Promise<ChunkReader>;
}

/** What an entry is copied with, besides its contents. */
export interface CopyMeta {
  readonly mode: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
}

/**
 * Where a copy goes: directories `D`, and `L`, what a later name of a
 * hard-linked file links to. Every entry is made under a temporary name
 * and renamed into place, so an entry is complete or absent; no
 * existing entry of the destination is ever followed.
 */
export interface CopyTarget<D, L> {
  /** The path of `name` in the directory at `parentPath`. */
  join(parentPath: string, name: string): string;
  /** `dest` as errors and `filter` show it: absolute and normalized. */
  normalize(dest: string): string;
  /** Where `dest` goes: a parent and a name, or an existing directory (`/`, `..`). */
  top(dest: string): Promise<{ parent: D; name: string } | { dir: D }>;
  /** Make the directory, or reuse a real one (never a symlink to one). Errors: EEXIST (a non-directory is there). */
  makeDir(parent: D, name: string, mode: number): Promise<{ dir: D; created: boolean }>;
  /** Write a file from `reader`, through `buffer`, in place of any non-directory. Errors: EISDIR. */
  writeFile(parent: D, name: string, meta: CopyMeta, reader: ChunkReader, buffer: Uint8Array): Promise<L>;
  /** Make a symlink holding `target` verbatim. Errors: EISDIR. */
  symlink(parent: D, name: string, target: string, meta: CopyMeta): Promise<void>;
  /** Make `name` another name of `existing`; false when that cannot be (another filesystem). */
  link(parent: D, name: string, existing: L): Promise<boolean>;
  /** Give a directory made by the copy its mode and times, once its entries are in. */
  finishDir(dir: D, meta: CopyMeta): Promise<void>;
}

/**
 * Copy the tree at `source` to `dest` through `target`, like `cp -R`
 * without `-L`: symlinks are copied as symlinks and never followed, modes
 * and times are kept, hard links within the tree stay linked, and
 * directories merge into existing ones. Errors are FsErrors for `syscall`
 * naming the source or destination path that failed.
 *
 * Errors: the source's and target's own, EISDIR (a directory without
 * `recursive`, or a non-directory onto a directory), EEXIST (a directory
 * onto a non-directory), ENOTSUP (a device, FIFO or socket).
 */
export async function copyTree<D, L>(source: SourceEntry, target: CopyTarget<D, L>, dest: string, options: SandboxCopyOptions, syscall: string): Promise<void> {
  const links = new Map<string, L>();
  const made: { dir: D; meta: CopyMeta; path: string }[] = [];
  const buffer = new Uint8Array(copyChunkBytes);
  // Errors already named for this copy pass through the outer steps unchanged.
  const named = new WeakSet<FsError>();
  const at = async <T>(path: string, step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (error) {
      if (error instanceof FsError && named.has(error)) throw error;
      const renamed = toFsError(error, syscall, path);
      named.add(renamed);
      throw renamed;
    }
  };

  const copyChildren = async (entry: SourceEntry, dir: D, dirPath: string): Promise<void> => {
    for (const child of await at(entry.path, () => entry.children())) {
      await copyEntry(child, dir, child.name, target.join(dirPath, child.name));
    }
  };

  const copyEntry = async (entry: SourceEntry, parent: D, name: string, path: string): Promise<void> => {
    if (options.filter !== undefined && !(await options.filter(entry.path, path))) return;
    const meta: CopyMeta = { mode: entry.mode, atimeNs: entry.atimeNs, mtimeNs: entry.mtimeNs };
    switch (entry.kind) {
      case 'directory': {
        if (options.recursive !== true) throw new FsError('EISDIR', syscall, entry.path);
        const { dir, created } = await at(path, () => target.makeDir(parent, name, entry.mode));
        if (created) made.push({ dir, meta, path });
        await copyChildren(entry, dir, path);
        return;
      }
      case 'file': {
        const first = entry.linkKey === undefined ? undefined : links.get(entry.linkKey);
        if (first !== undefined && (await at(path, () => target.link(parent, name, first)))) return;
        const opened = await at(entry.path, () => entry.open());
        const reader: ChunkReader = { read: (into, position) => at(entry.path, () => opened.read(into, position)), close: () => opened.close() };
        try {
          const ref = await at(path, () => target.writeFile(parent, name, meta, reader, buffer));
          if (entry.linkKey !== undefined && first === undefined) links.set(entry.linkKey, ref);
        } finally {
          await at(entry.path, () => reader.close());
        }
        return;
      }
      case 'symlink': {
        const linkTarget = await at(entry.path, () => entry.readlink());
        await at(path, () => target.symlink(parent, name, linkTarget, meta));
        return;
      }
      default:
        throw new FsError('ENOTSUP', syscall, entry.path);
    }
  };

  const shown = target.normalize(dest);
  const top = await at(shown, () => target.top(dest));
  if ('dir' in top) {
    if (source.kind !== 'directory') throw new FsError('EISDIR', syscall, shown);
    if (options.filter !== undefined && !(await options.filter(source.path, shown))) return;
    if (options.recursive !== true) throw new FsError('EISDIR', syscall, source.path);
    await copyChildren(source, top.dir, shown);
  } else {
    await copyEntry(source, top.parent, top.name, shown);
  }
  // Deepest first, so setting a directory's times comes after its last change.
  for (const { dir, meta, path } of made.reverse()) await at(path, () => target.finishDir(dir, meta));
}

/** A name no entry of a copy's destination is expected to have, for the temporary copy of one entry. */
export function tempName(): string {
  return `.strata-copy-${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`;
}
