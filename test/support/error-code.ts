import { StrataError } from '../../src/errors.js';

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
