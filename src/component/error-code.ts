import { FsError } from '../vfs/index.js';

/**
 * The WIT `error-code` of `wasi:filesystem/types` (0.2.x), as jco passes
 * it: its case name.
 * https://github.com/WebAssembly/wasi-filesystem/blob/main/wit/types.wit
 */
export type ErrorCode =
  | 'access' | 'would-block' | 'already' | 'bad-descriptor' | 'busy' | 'deadlock' | 'quota' | 'exist'
  | 'file-too-large' | 'illegal-byte-sequence' | 'in-progress' | 'interrupted' | 'invalid' | 'io'
  | 'is-directory' | 'loop' | 'too-many-links' | 'message-size' | 'name-too-long' | 'no-device'
  | 'no-entry' | 'no-lock' | 'insufficient-memory' | 'insufficient-space' | 'not-directory' | 'not-empty'
  | 'not-recoverable' | 'unsupported' | 'no-tty' | 'no-such-device' | 'overflow' | 'not-permitted'
  | 'pipe' | 'read-only' | 'invalid-seek' | 'text-file-busy' | 'cross-device';

/** POSIX errno name → WIT error-code; a name missing here becomes `io`. */
const byErrno: Readonly<Record<string, ErrorCode>> = {
  EACCES: 'access', EAGAIN: 'would-block', EALREADY: 'already', EBADF: 'bad-descriptor', EBUSY: 'busy',
  EDEADLK: 'deadlock', EDQUOT: 'quota', EEXIST: 'exist', EFBIG: 'file-too-large', EILSEQ: 'illegal-byte-sequence',
  EINPROGRESS: 'in-progress', EINTR: 'interrupted', EINVAL: 'invalid', EIO: 'io', EISDIR: 'is-directory',
  ELOOP: 'loop', EMLINK: 'too-many-links', EMSGSIZE: 'message-size', ENAMETOOLONG: 'name-too-long',
  ENODEV: 'no-device', ENOENT: 'no-entry', ENOLCK: 'no-lock', ENOMEM: 'insufficient-memory',
  ENOSPC: 'insufficient-space', ENOTDIR: 'not-directory', ENOTEMPTY: 'not-empty',
  ENOTRECOVERABLE: 'not-recoverable', ENOTSUP: 'unsupported', ENOTTY: 'no-tty', ENXIO: 'no-such-device',
  EOVERFLOW: 'overflow', EPERM: 'not-permitted', EPIPE: 'pipe', EROFS: 'read-only', ESPIPE: 'invalid-seek',
  ETXTBSY: 'text-file-busy', EXDEV: 'cross-device',
};

/**
 * An error-code the component host itself decides (a path that leaves its
 * descriptor, a write on a read-only descriptor…). Thrown inside a call and
 * converted in {@link toErrorCode}.
 */
export class ComponentError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode) {
    super(code);
    this.name = 'ComponentError';
    this.code = code;
  }
}

/** Shorthand: `throw componentError('bad-descriptor')`. */
export function componentError(code: ErrorCode): ComponentError {
  return new ComponentError(code);
}

/**
 * The one place an error becomes a WIT `error-code`: an `FsError` by its
 * errno (an errno WIT lacks → `io`), a {@link ComponentError} as it is.
 * Anything else is not the guest's doing: `undefined`, and the caller ends
 * the process with it (a host bug traps, it is never disguised as a code).
 */
export function toErrorCode(error: unknown): ErrorCode | undefined {
  if (error instanceof FsError) return byErrno[error.errno] ?? 'io';
  if (error instanceof ComponentError) return error.code;
  return undefined;
}
