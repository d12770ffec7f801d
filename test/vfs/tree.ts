import { expect } from 'vitest';
import { FsError, Namespace, Tmpfs, type DirNode, type Errno, type FileNode, type TmpfsLimits } from '../../src/vfs/index.js';

/** A fresh tmpfs (dev 1) with a namespace rooted at its root. */
export function world(limits?: Partial<TmpfsLimits>): { fs: Tmpfs; ns: Namespace; root: DirNode } {
  const fs = new Tmpfs(limits === undefined ? { dev: 1n } : { dev: 1n, limits });
  return { fs, ns: new Namespace(fs.root), root: fs.root };
}

/**
 * Build a tree from a small DSL, in order:
 * `'d/'` a directory, `'f=text'` a file holding text, `'l -> target'` a symlink.
 */
export function build(ns: Namespace, entries: readonly string[], start: DirNode = ns.root): void {
  for (const entry of entries) {
    const arrow = entry.indexOf(' -> ');
    const eq = entry.indexOf('=');
    if (arrow >= 0) ns.symlink(entry.slice(arrow + 4), start, entry.slice(0, arrow));
    else if (entry.endsWith('/')) ns.mkdir(start, entry);
    else if (eq >= 0) writeFile(ns, entry.slice(0, eq), entry.slice(eq + 1), start);
    else writeFile(ns, entry, '', start);
  }
}

/** Create (or truncate) the file at `path` and write `text` into it. */
export function writeFile(ns: Namespace, path: string, text: string, start: DirNode = ns.root): FileNode {
  const file = Namespace.asFile(ns.open(start, path, { follow: true, create: true }).node, 'open');
  const bytes = utf8.encode(text);
  file.truncate(0);
  file.write(bytes, 0, bytes.length, 0);
  return file;
}

/** The whole contents of the file at `path` (following symlinks). */
export function readFile(ns: Namespace, path: string, start: DirNode = ns.root): string {
  return contents(Namespace.asFile(ns.resolve(start, path, true, 'open'), 'open'));
}

/** The whole contents of an open file node. */
export function contents(file: FileNode): string {
  const buf = new Uint8Array(file.size);
  file.read(buf, 0, buf.length, 0);
  return new TextDecoder().decode(buf);
}

/** The directory at `path`. */
export function dirAt(ns: Namespace, path: string): DirNode {
  const node = ns.resolve(ns.root, path, true, 'open');
  if (node.type !== 'directory') throw new Error(`${path} is not a directory`);
  return node;
}

/** Names in `dir` (without `.` and `..`), in cookie order. */
export function names(ns: Namespace, dir: DirNode): string[] {
  const out: string[] = [];
  ns.readdir(dir, 2, (e) => (out.push(e.name), true));
  return out;
}

/** Run `fn`; return 'ok', or the errno of the FsError it threw. Anything else is rethrown. */
export function outcome(fn: () => unknown): Errno | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof FsError) return error.errno;
    throw error;
  }
}

/** Expect `fn` to throw an FsError with `errno`. */
export function expectErrno(fn: () => unknown, errno: Errno): void {
  expect(outcome(fn)).toBe(errno);
}

const utf8 = new TextEncoder();
