/**
 * `PooledSandbox.fs`: the `sandbox.fs` methods, forwarded to the
 * sandbox's home worker.
 */
import { ErrorCode, StrataError } from '../../errors.js';
import type { SandboxCopyOptions } from '../sandbox-fs-copy.js';
import type { SandboxMkdirOptions, SandboxReaddirOptions, SandboxReadFileOptions, SandboxRmOptions, SandboxTime, SandboxWriteFileOptions } from '../sandbox-fs.js';
import { SandboxDirent, SandboxStats } from '../sandbox-fs-stats.js';
import type { WireDirent } from './fs-server.js';

/** Forwards one call to the home worker. */
export type FsCall = (method: string, args: readonly unknown[]) => Promise<unknown>;

/**
 * Files in and out of a pooled sandbox, with the methods, arguments,
 * results and errors (`FsError`) of {@link SandboxFs}, each call
 * forwarded to the sandbox's home worker.
 *
 * When that worker is idle a call is served at once. While it runs a
 * guest, the call is served at the guest's next syscall, synchronously,
 * between two of its calls: the wait is bounded by how long the guest
 * computes without a syscall (or sleeps in one poll_oneoff), and by its
 * timeout or a kill. `copyIn`, `copyOut` and `cp` read or write host files
 * across awaits, so they wait until the worker is idle. `open` is not
 * offered (a handle cannot live across threads): it rejects with
 * ERR_INVALID_OPTION.
 */
export class PooledSandboxFs {
  readonly #call: FsCall;

  /** @internal Made by `PooledSandbox`. */
  constructor(call: FsCall) {
    this.#call = call;
  }

  /** See {@link SandboxFs.readFile}. */
  readFile(path: string, options?: { readonly encoding?: null | undefined } | null): Promise<Uint8Array>;
  readFile(path: string, options: BufferEncoding | { readonly encoding: BufferEncoding }): Promise<string>;
  readFile(path: string, options?: SandboxReadFileOptions | null): Promise<Uint8Array | string>;
  readFile(path: string, options?: SandboxReadFileOptions | null): Promise<Uint8Array | string> {
    return this.#call('readFile', [path, options]) as Promise<Uint8Array | string>;
  }

  /** See {@link SandboxFs.writeFile}. */
  async writeFile(path: string, data: string | Uint8Array, options: SandboxWriteFileOptions = {}): Promise<void> {
    await this.#call('writeFile', [path, data, options]);
  }

  /** See {@link SandboxFs.readdir}. */
  readdir(path: string, options: SandboxReaddirOptions & { readonly withFileTypes: true }): Promise<SandboxDirent[]>;
  readdir(path: string, options?: SandboxReaddirOptions & { readonly withFileTypes?: false }): Promise<string[]>;
  readdir(path: string, options?: SandboxReaddirOptions): Promise<string[] | SandboxDirent[]>;
  async readdir(path: string, options: SandboxReaddirOptions = {}): Promise<string[] | SandboxDirent[]> {
    const value = (await this.#call('readdir', [path, options])) as string[] | WireDirent[];
    if (options.withFileTypes !== true) return value as string[];
    return (value as WireDirent[]).map((d) => new SandboxDirent(d.name, d.parentPath, d.type));
  }

  /** See {@link SandboxFs.stat}. */
  async stat(path: string): Promise<SandboxStats> {
    return stats(await this.#call('stat', [path]));
  }

  /** See {@link SandboxFs.lstat}. */
  async lstat(path: string): Promise<SandboxStats> {
    return stats(await this.#call('lstat', [path]));
  }

  /** See {@link SandboxFs.mkdir}. */
  mkdir(path: string, options: SandboxMkdirOptions = {}): Promise<string | undefined> {
    return this.#call('mkdir', [path, options]) as Promise<string | undefined>;
  }

  /** See {@link SandboxFs.rm}. */
  async rm(path: string, options: SandboxRmOptions = {}): Promise<void> {
    await this.#call('rm', [path, options]);
  }

  /** See {@link SandboxFs.rmdir}. */
  async rmdir(path: string): Promise<void> {
    await this.#call('rmdir', [path]);
  }

  /** See {@link SandboxFs.unlink}. */
  async unlink(path: string): Promise<void> {
    await this.#call('unlink', [path]);
  }

  /** See {@link SandboxFs.rename}. */
  async rename(from: string, to: string): Promise<void> {
    await this.#call('rename', [from, to]);
  }

  /** See {@link SandboxFs.symlink}. */
  async symlink(target: string, path: string): Promise<void> {
    await this.#call('symlink', [target, path]);
  }

  /** See {@link SandboxFs.readlink}. */
  readlink(path: string): Promise<string> {
    return this.#call('readlink', [path]) as Promise<string>;
  }

  /** See {@link SandboxFs.link}. */
  async link(existing: string, newPath: string): Promise<void> {
    await this.#call('link', [existing, newPath]);
  }

  /** See {@link SandboxFs.utimes}. */
  async utimes(path: string, atime: SandboxTime, mtime: SandboxTime): Promise<void> {
    await this.#call('utimes', [path, atime, mtime]);
  }

  /** See {@link SandboxFs.truncate}. */
  async truncate(path: string, length = 0): Promise<void> {
    await this.#call('truncate', [path, length]);
  }

  /** See {@link SandboxFs.access}. */
  async access(path: string, mode = 0): Promise<void> {
    await this.#call('access', [path, mode]);
  }

  /** See {@link SandboxFs.exists}. */
  exists(path: string): Promise<boolean> {
    return this.#call('exists', [path]) as Promise<boolean>;
  }

  /** See {@link SandboxFs.copyIn}; waits until the home worker is idle. */
  async copyIn(hostPath: string, sandboxPath: string, options: SandboxCopyOptions = {}): Promise<void> {
    await this.#call('copyIn', [hostPath, sandboxPath, options]);
  }

  /** See {@link SandboxFs.copyOut}; waits until the home worker is idle. */
  async copyOut(sandboxPath: string, hostPath: string, options: SandboxCopyOptions = {}): Promise<void> {
    await this.#call('copyOut', [sandboxPath, hostPath, options]);
  }

  /** See {@link SandboxFs.cp}; waits until the home worker is idle. */
  async cp(source: string, destination: string, options: SandboxCopyOptions = {}): Promise<void> {
    await this.#call('cp', [source, destination, options]);
  }

  /** Not offered on a pooled sandbox. Errors: ERR_INVALID_OPTION, always. */
  async open(path: string): Promise<never> {
    throw new StrataError(ErrorCode.invalidOption, `open('${path}'): file handles are not offered on a pooled sandbox; use readFile, writeFile, copyIn or copyOut`);
  }
}

/** A SandboxStats again: a structured clone keeps its fields, and its class gives back the getters and methods. */
function stats(value: unknown): SandboxStats {
  return Object.setPrototypeOf(value as object, SandboxStats.prototype) as SandboxStats;
}
