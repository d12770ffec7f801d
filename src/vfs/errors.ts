/**
 * POSIX error names used inside the VFS. They map to WASI numbers only at the
 * ABI boundary (src/wasi/errno.ts), never here.
 */
export const Errno = {
  EACCES: 'EACCES',
  EBADF: 'EBADF',
  EBUSY: 'EBUSY',
  EEXIST: 'EEXIST',
  EFBIG: 'EFBIG',
  EINVAL: 'EINVAL',
  EIO: 'EIO',
  EISDIR: 'EISDIR',
  ELOOP: 'ELOOP',
  EMFILE: 'EMFILE',
  EMLINK: 'EMLINK',
  ENAMETOOLONG: 'ENAMETOOLONG',
  ENOENT: 'ENOENT',
  ENOSPC: 'ENOSPC',
  ENOTDIR: 'ENOTDIR',
  ENOTEMPTY: 'ENOTEMPTY',
  ENOTSUP: 'ENOTSUP',
  ENXIO: 'ENXIO',
  EPERM: 'EPERM',
  EROFS: 'EROFS',
  ESPIPE: 'ESPIPE',
  EXDEV: 'EXDEV',
} as const;
export type Errno = (typeof Errno)[keyof typeof Errno];

/**
 * A filesystem error: a POSIX errno name, the operation and the path.
 *
 * The VFS throws only this. The WASI layer converts it to a WASI errno in
 * one place; anything else reaching that place is a host bug and traps.
 */
export class FsError extends Error {
  readonly errno: Errno;
  /** The errno name again, as Node's fs errors carry it. */
  readonly code: Errno;
  readonly syscall: string;
  readonly path: string | undefined;

  constructor(errno: Errno, syscall: string, path?: string) {
    super(path === undefined ? `${errno}: ${syscall}` : `${errno}: ${syscall} '${path}'`);
    this.name = 'FsError';
    this.errno = errno;
    this.code = errno;
    this.syscall = syscall;
    this.path = path;
  }
}

/**
 * Shorthand used at throw sites: `throw fsError('ENOENT', 'open', p)`.
 *
 * Made without a stack trace: a VFS error is an outcome a guest asked
 * for (ENOENT while searching a path list, EEXIST from mkdir -p), the
 * call and path are in its message, and capturing a stack cost more than
 * the rest of the failed call (P1: 781 ms of a 6 s profile of 20,000
 * fresh sandboxes went to FsError's stack, from `/dev`'s ENOENT alone).
 */
export function fsError(errno: Errno, syscall: string, path?: string): FsError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new FsError(errno, syscall, path);
  } finally {
    Error.stackTraceLimit = limit;
  }
}
