import { FsError } from '../vfs/index.js';
import { WasiErrno, type WasiErrnoName } from './abi.js';
import { GuestFault, GuestIllegalSequence } from './memory.js';

/**
 * An errno the WASI layer itself decides (EBADF, ENOTCAPABLE, EINVAL for a
 * bad flag…). Thrown inside a syscall and converted in {@link toErrno}.
 */
export class WasiError extends Error {
  readonly errno: number;

  constructor(name: WasiErrnoName) {
    super(name);
    this.name = 'WasiError';
    this.errno = WasiErrno[name];
  }
}

/** Shorthand: `throw wasiError('EBADF')`. */
export function wasiError(name: WasiErrnoName): WasiError {
  return new WasiError(name);
}

/**
 * The one place errors become WASI errno values.
 *
 * - FsError → its errno by name; a name WASI lacks → EIO.
 * - GuestFault → EFAULT; GuestIllegalSequence → EILSEQ; WasiError → its errno.
 * - Anything else is not the guest's doing: it is rethrown, so the guest
 *   traps and the host bug is reported, never disguised as an errno.
 */
export function toErrno(error: unknown): number {
  if (error instanceof FsError) return (WasiErrno as Record<string, number>)[error.errno] ?? WasiErrno.EIO;
  if (error instanceof WasiError) return error.errno;
  if (error instanceof GuestFault) return WasiErrno.EFAULT;
  if (error instanceof GuestIllegalSequence) return WasiErrno.EILSEQ;
  throw error;
}
