import { ErrorCode, StrataError } from '../errors.js';
import { FsError, type Namespace } from '../vfs/index.js';
import type { Preopen } from '../wasi/index.js';

/**
 * A directory handed to the guest at start: `dir`, a directory of the
 * sandbox, which the guest sees by the name `as` (what wasi-libc matches
 * its absolute paths against, like wasmtime's `--dir DIR::AS`).
 */
export interface PreopenOption {
  /** A directory in the sandbox, by its absolute path. */
  readonly dir: string;
  /** The name the guest sees, usually absolute (`/data`). */
  readonly as: string;
}

/** The default: the sandbox root, preopened as `/` (fd 3). */
export const defaultPreopens: readonly PreopenOption[] = [{ dir: '/', as: '/' }];

/** Most preopens one process can be given. */
export const maxPreopens = 64;

/**
 * Resolve `RunOptions.preopens` to the directories the WASI host hands out,
 * in order (fd 3, 4, …). `[]` gives a process with no preopen.
 *
 * A preopen names what a guest is handed, not a boundary: symlinks in the
 * tree resolve against the sandbox root (docs/decisions.md).
 *
 * Errors: ERR_INVALID_OPTION (not an array, more than {@link maxPreopens},
 * an entry without a string `dir` and a non-empty `as`, or a NUL byte in
 * either), ERR_BAD_PATH (`dir` is missing or not a directory; the entry is
 * named).
 */
export function resolvePreopens(namespace: Namespace, preopens: readonly PreopenOption[] = defaultPreopens): Preopen[] {
  if (preopens === defaultPreopens) return [{ path: '/', dir: namespace.root }];
  if (!Array.isArray(preopens)) throw new StrataError(ErrorCode.invalidOption, 'preopens must be an array of { dir, as }');
  if (preopens.length > maxPreopens) {
    throw new StrataError(ErrorCode.invalidOption, `preopens: ${preopens.length} entries, at most ${maxPreopens}`);
  }
  return preopens.map((entry: unknown, i) => {
    const { dir, as } = (entry ?? {}) as Partial<PreopenOption>;
    if (typeof dir !== 'string' || typeof as !== 'string' || as === '' || dir.includes('\0') || as.includes('\0')) {
      throw new StrataError(ErrorCode.invalidOption, `preopens[${i}] must be { dir, as } with a non-empty 'as' and no NUL byte`);
    }
    let node;
    try {
      node = namespace.resolve(namespace.root, dir, true, 'preopen');
    } catch (error) {
      if (error instanceof FsError) throw new StrataError(ErrorCode.badPath, `preopens[${i}] dir '${dir}': ${error.errno}`, { cause: error });
      throw error;
    }
    if (node.type !== 'directory') throw new StrataError(ErrorCode.badPath, `preopens[${i}] dir '${dir}' is not a directory`);
    return { path: as, dir: node };
  });
}
