/**
 * The limits every path resolution applies, as Linux does: PATH_MAX,
 * NAME_MAX and MAXSYMLINKS. Lengths are checked on the JS string first, so
 * a huge path is refused without encoding it.
 */
import { fsError } from './errors.js';

/** Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS). */
export const maxSymlinks = 40;
/** PATH_MAX: a path must be shorter than this many bytes (the limit counts C's NUL, as Linux does). */
export const maxPathBytes = 4096;
/** Longest single component, in bytes (NAME_MAX). */
export const maxNameBytes = 255;

/**
 * Check a whole path before it is walked.
 * Errors: ENOENT (empty), ENAMETOOLONG (PATH_MAX or more bytes), EINVAL (a NUL).
 */
export function checkPath(path: string, syscall: string): void {
  if (path === '') throw fsError('ENOENT', syscall, path);
  if (path.length >= maxPathBytes || (path.length * 3 >= maxPathBytes && Buffer.byteLength(path) >= maxPathBytes)) {
    throw fsError('ENAMETOOLONG', syscall, path.slice(0, 64) + '…');
  }
  if (path.includes('\0')) throw fsError('EINVAL', syscall, path);
}

/** Check one component. Errors: ENAMETOOLONG (over NAME_MAX bytes; `path` is named). */
export function checkName(name: string, syscall: string, path: string): void {
  if (name.length > maxNameBytes || (name.length * 3 > maxNameBytes && Buffer.byteLength(name) > maxNameBytes)) {
    throw fsError('ENAMETOOLONG', syscall, path.slice(0, 64) + '…');
  }
}
