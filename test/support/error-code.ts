import { StrataError } from '../../src/errors.js';
import { FsError } from '../../src/vfs/index.js';

/**
 * The StrataError code a promise (or a function's promise) rejects with, or
 * 'ok' if it resolves. Any other error is rethrown, so a host bug never
 * passes for an expected code.
 */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (error) {
    if (error instanceof StrataError) return error.code;
    throw error;
  }
}

/**
 * The FsError code (`ENOENT`, `EROFS`…) a promise rejects with, or 'ok' if
 * it resolves. Any other error is rethrown, as {@link codeOf} does.
 */
export async function fsCodeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (error instanceof FsError) return error.code;
    throw error;
  }
}
