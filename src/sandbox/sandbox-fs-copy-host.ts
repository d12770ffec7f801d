import { constants, type BigIntStats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FsError } from '../vfs/index.js';
import { tempName, type ChunkReader, type CopyMeta, type CopyTarget, type SourceEntry } from './sandbox-fs-copy.js';

/** node:fs/promises, loaded on first use: the CLI's run path imports this module but rarely copies (docs/decisions.md, "CLI start"). */
const fsp = () => process.getBuiltinModule('node:fs/promises');

// Windows has neither; there a symlink swapped in is the documented limit.
const noFollow = constants.O_NOFOLLOW ?? 0;
const nonBlock = constants.O_NONBLOCK ?? 0;

/**
 * A host path as the source of a copy, never following a symlink: the
 * path itself and every entry under it are read with `lstat`, and files
 * are opened with O_NOFOLLOW (and O_NONBLOCK, so a FIFO swapped in after
 * the `lstat` cannot block the copy; it is then refused as not a file).
 *
 * Errors: the host's, as their POSIX code.
 */
export async function hostSource(path: string, syscall: string): Promise<SourceEntry> {
  const abs = resolve(path);
  return hostEntry(abs, await fsp().lstat(abs, { bigint: true }), syscall);
}

function hostEntry(path: string, st: BigIntStats, syscall: string): SourceEntry {
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
  return {
    path,
    name: basename(path),
    kind,
    mode: Number(st.mode & 0o7777n),
    atimeNs: st.atimeNs,
    mtimeNs: st.mtimeNs,
    linkKey: kind === 'file' && st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined,
    children: async () => {
      // Sorted, so a copy is made in the same order on every host.
      const names = (await fsp().readdir(path)).sort();
      const entries: SourceEntry[] = [];
      for (const name of names) {
        const child = join(path, name);
        entries.push(hostEntry(child, await fsp().lstat(child, { bigint: true }), syscall));
      }
      return entries;
    },
    readlink: () => fsp().readlink(path),
    open: async () => {
      const handle = await fsp().open(path, constants.O_RDONLY | noFollow | nonBlock);
      try {
        if (!(await handle.stat()).isFile()) throw new FsError('ENOTSUP', syscall, path);
      } catch (error) {
        await handle.close();
        throw error;
      }
      return {
        read: async (into, position) => (await handle.read(into, 0, into.length, position)).bytesRead,
        close: () => handle.close(),
      };
    },
  };
}

/**
 * A host directory tree as the destination of a copy.
 *
 * The parent of the destination the caller gives is trusted and resolved
 * by the host as usual; from the destination's own name down, nothing is
 * ever followed:
 * - a directory is reused only when `lstat` shows a real directory, so a
 *   symlink there (one the copy made itself, on a case-insensitive host,
 *   or one that was already there) is refused with EEXIST;
 * - every file and symlink is made under a temporary name, with
 *   O_CREAT|O_EXCL|O_NOFOLLOW, and renamed over the final name, which
 *   replaces a symlink there instead of writing through it;
 * - before each write its directory is checked again with `lstat`.
 * Modes lose setuid, setgid and sticky bits on the host. Directories are
 * made 0700 and get their mode and times once their entries are in.
 * Not closed: a host process that swaps a checked directory for a symlink
 * between the check and the write (Node has no openat); see docs/decisions.md.
 */
export class HostTarget implements CopyTarget<string, string> {
  readonly #syscall: string;

  constructor(syscall: string) {
    this.#syscall = syscall;
  }

  join(parentPath: string, name: string): string {
    return join(parentPath, name);
  }

  normalize(dest: string): string {
    return resolve(dest);
  }

  async top(dest: string): Promise<{ parent: string; name: string } | { dir: string }> {
    const abs = resolve(dest);
    const name = basename(abs);
    if (name === '') {
      await this.#checkDir(abs);
      return { dir: abs };
    }
    const parent = dirname(abs);
    if (!(await fsp().stat(parent)).isDirectory()) throw new FsError('ENOTDIR', this.#syscall, parent);
    return { parent, name };
  }

  async makeDir(parent: string, name: string): Promise<{ dir: string; created: boolean }> {
    const path = join(parent, name);
    try {
      await fsp().mkdir(path, 0o700);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      const st = await fsp().lstat(path);
      if (!st.isDirectory()) throw new FsError('EEXIST', this.#syscall, path);
      return { dir: path, created: false };
    }
    await this.#checkDir(path);
    return { dir: path, created: true };
  }

  async writeFile(parent: string, name: string, meta: CopyMeta, reader: ChunkReader, buffer: Uint8Array): Promise<string> {
    await this.#checkDir(parent);
    const tmp = join(parent, tempName());
    const handle = await fsp().open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | noFollow, 0o600);
    try {
      try {
        for (let position = 0; ; ) {
          const n = await reader.read(buffer, position);
          if (n === 0) break;
          for (let done = 0; done < n; ) done += (await handle.write(buffer, done, n - done, position + done)).bytesWritten;
          position += n;
        }
        await handle.chmod(meta.mode & 0o777);
        await handle.utimes(seconds(meta.atimeNs), seconds(meta.mtimeNs));
      } finally {
        await handle.close();
      }
      const final = join(parent, name);
      await this.#replace(tmp, final);
      return final;
    } catch (error) {
      await fsp().unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  async symlink(parent: string, name: string, target: string, meta: CopyMeta): Promise<void> {
    await this.#checkDir(parent);
    const tmp = join(parent, tempName());
    try {
      await fsp().symlink(target, tmp);
      await fsp().lutimes(tmp, seconds(meta.atimeNs), seconds(meta.mtimeNs));
      await this.#replace(tmp, join(parent, name));
    } catch (error) {
      await fsp().unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  async link(parent: string, name: string, existing: string): Promise<boolean> {
    await this.#checkDir(parent);
    const tmp = join(parent, tempName());
    try {
      await fsp().link(existing, tmp);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK') return false;
      throw error;
    }
    try {
      await this.#replace(tmp, join(parent, name));
      return true;
    } catch (error) {
      await fsp().unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  async finishDir(dir: string, meta: CopyMeta): Promise<void> {
    await this.#checkDir(dir);
    await fsp().chmod(dir, meta.mode & 0o777);
    await fsp().utimes(dir, seconds(meta.atimeNs), seconds(meta.mtimeNs));
  }

  /** Rename `tmp` over `final`, which may be a file or a symlink, never a directory. */
  async #replace(tmp: string, final: string): Promise<void> {
    const existing = await fsp().lstat(final).catch(() => undefined);
    if (existing?.isDirectory() === true) throw new FsError('EISDIR', this.#syscall, final);
    await fsp().rename(tmp, final);
  }

  /** `path` is still a real directory, not a symlink to one. */
  async #checkDir(path: string): Promise<void> {
    const st = await fsp().lstat(path);
    if (!st.isDirectory()) throw new FsError(st.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR', this.#syscall, path);
  }
}

/** Nanoseconds as the seconds Node's utimes takes (microsecond precision survives). */
function seconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}
