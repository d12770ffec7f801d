import { posix } from 'node:path';
import { FsError, firstEntryCookie, type DirNode, type FileNode, type Namespace, type Node } from '../vfs/index.js';
import { childOf } from './sandbox-fs-walk.js';
import { tempName, type ChunkReader, type CopyMeta, type CopyTarget, type SourceEntry } from './sandbox-fs-copy.js';

/**
 * A sandbox node as the source of a copy. Children are looked up through
 * the namespace, so a mount point lists and copies the mounted tree.
 */
export function sandboxSource(ns: Namespace, node: Node, path: string, syscall: string): SourceEntry {
  const stat = node.stat();
  const kind = node.type === 'character-device' ? 'other' : node.type;
  return {
    path,
    name: posix.basename(path),
    kind,
    mode: stat.mode & 0o7777,
    atimeNs: stat.atimeNs,
    mtimeNs: stat.mtimeNs,
    linkKey: node.type === 'file' && stat.nlink > 1 ? `${stat.dev}:${stat.ino}` : undefined,
    children: async () => {
      if (node.type !== 'directory') throw new FsError('ENOTDIR', syscall, path);
      const names: string[] = [];
      ns.readdir(node, firstEntryCookie, (entry) => names.push(entry.name) > 0);
      return names.map((name) => sandboxSource(ns, ns.resolve(node, name, false, syscall), childOf(path, name), syscall));
    },
    readlink: async () => {
      if (node.type !== 'symlink') throw new FsError('EINVAL', syscall, path);
      return node.target;
    },
    open: async () => {
      if (node.type !== 'file') throw new FsError('EINVAL', syscall, path);
      return fileReader(node);
    },
  };
}

/** Reads a sandbox file; it stays readable if the guest unlinks it meanwhile. */
function fileReader(file: FileNode): ChunkReader {
  file.retain();
  let open = true;
  return {
    read: async (into, position) => file.read(into, 0, into.length, position),
    close: async () => {
      if (open) file.release();
      open = false;
    },
  };
}

/**
 * A sandbox directory tree as the destination of a copy. Directories are
 * held as nodes once resolved, so nothing is looked up twice; names are
 * created in the directory the copy made or found, never through a
 * symlink at that name. The sandbox's quotas apply to every write: ENOSPC
 * removes the temporary copy of the file that did not fit.
 */
export class SandboxTarget implements CopyTarget<DirNode, FileNode> {
  readonly #ns: Namespace;
  readonly #syscall: string;
  /** A source directory the copy must not land in (cp within the sandbox). */
  readonly #notUnder: Node | undefined;

  constructor(ns: Namespace, syscall: string, notUnder?: Node) {
    this.#ns = ns;
    this.#syscall = syscall;
    this.#notUnder = notUnder;
  }

  join(parentPath: string, name: string): string {
    return childOf(parentPath, name);
  }

  normalize(dest: string): string {
    return posix.resolve('/', dest);
  }

  async top(dest: string): Promise<{ parent: DirNode; name: string } | { dir: DirNode }> {
    const { dir, name } = this.#ns.resolveParent(this.#ns.root, dest, this.#syscall);
    this.#checkNotUnder(dir, dest);
    if (name !== '.' && name !== '..') {
      if (this.#notUnder !== undefined && this.#existing(dir, name) === this.#notUnder) throw new FsError('EINVAL', this.#syscall, dest);
      return { parent: dir, name };
    }
    const node = this.#ns.resolve(dir, name, true, this.#syscall);
    if (node.type !== 'directory') throw new FsError('ENOTDIR', this.#syscall, dest);
    return { dir: node };
  }

  async makeDir(parent: DirNode, name: string, mode: number): Promise<{ dir: DirNode; created: boolean }> {
    const existing = this.#existing(parent, name);
    if (existing === undefined) return { dir: this.#ns.mkdir(parent, name, mode), created: true };
    if (existing.type !== 'directory') throw new FsError('EEXIST', this.#syscall);
    return { dir: existing, created: false };
  }

  async writeFile(parent: DirNode, name: string, meta: CopyMeta, reader: ChunkReader, buffer: Uint8Array): Promise<FileNode> {
    const tmp = tempName();
    const opened = this.#ns.open(parent, tmp, { follow: false, create: true, exclusive: true, mode: meta.mode });
    const file = opened.node as FileNode;
    // Retained, so a guest unlinking the temporary name cannot free what is still being written.
    file.retain();
    try {
      for (let position = 0; ; ) {
        const n = await reader.read(buffer, position);
        if (n === 0) break;
        file.write(buffer, 0, n, position);
        position += n;
      }
      file.setTimes(meta.atimeNs, meta.mtimeNs);
      this.#replace(parent, tmp, name);
      return file;
    } catch (error) {
      this.#discard(parent, tmp);
      throw error;
    } finally {
      file.release();
    }
  }

  async symlink(parent: DirNode, name: string, target: string, meta: CopyMeta): Promise<void> {
    const tmp = tempName();
    try {
      parent.symlink(tmp, target).setTimes(meta.atimeNs, meta.mtimeNs);
      this.#replace(parent, tmp, name);
    } catch (error) {
      this.#discard(parent, tmp);
      throw error;
    }
  }

  async link(parent: DirNode, name: string, existing: FileNode): Promise<boolean> {
    if (existing.fs !== parent.fs) return false;
    const tmp = tempName();
    try {
      parent.link(tmp, existing);
      this.#replace(parent, tmp, name);
      return true;
    } catch (error) {
      this.#discard(parent, tmp);
      throw error;
    }
  }

  async finishDir(dir: DirNode, meta: CopyMeta): Promise<void> {
    dir.setTimes(meta.atimeNs, meta.mtimeNs);
  }

  /** The node at `name`, its symlink or mount not followed. */
  #existing(parent: DirNode, name: string): Node | undefined {
    try {
      return this.#ns.resolve(parent, name, false, this.#syscall);
    } catch (error) {
      if (error instanceof FsError && error.code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Rename the finished `tmp` over `name`, unless a directory is there. */
  #replace(parent: DirNode, tmp: string, name: string): void {
    if (this.#existing(parent, name)?.type === 'directory') throw new FsError('EISDIR', this.#syscall);
    this.#ns.rename(parent, tmp, parent, name);
  }

  #discard(parent: DirNode, tmp: string): void {
    try {
      this.#ns.unlink(parent, tmp);
    } catch {
      // Not made, or already gone: nothing to clean.
    }
  }

  /** cp -R of a directory into itself would never end: EINVAL, as cp says. */
  #checkNotUnder(dir: DirNode, dest: string): void {
    if (this.#notUnder?.type !== 'directory') return;
    for (let d = dir; ; d = this.#ns.parentOf(d)) {
      if (d === this.#notUnder) throw new FsError('EINVAL', this.#syscall, dest);
      if (d === this.#ns.root) return;
    }
  }
}
