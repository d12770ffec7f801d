/**
 * Errors across threads. A structured clone keeps an Error's message but
 * not its class or fields, so each side sends a {@link WireError} and the
 * other rebuilds the FsError or StrataError (GuestError included) the
 * in-thread API would have thrown.
 */
import { ErrorCode, StrataError } from '../../errors.js';
import { FsError, type Errno } from '../../vfs/index.js';
import type { WireError } from './protocol.js';

/** `error` as data. */
export function toWire(error: unknown): WireError {
  if (error instanceof FsError) return { kind: 'fs', errno: error.errno, syscall: error.syscall, path: error.path };
  if (error instanceof StrataError) return { kind: 'strata', code: error.code, message: error.message, name: error.name };
  if (error instanceof Error) return { kind: 'other', message: error.message, name: error.name };
  return { kind: 'other', message: String(error), name: 'Error' };
}

/**
 * The error a {@link WireError} stands for. An error that is neither an
 * FsError nor a StrataError was a host bug in the worker: ERR_INTERNAL.
 */
export function fromWire(wire: WireError): Error {
  switch (wire.kind) {
    case 'fs':
      return new FsError(wire.errno as Errno, wire.syscall, wire.path);
    case 'strata': {
      const error = new StrataError(wire.code, wire.message);
      error.name = wire.name;
      return error;
    }
    default:
      return new StrataError(ErrorCode.internal, `in a pool worker: ${wire.name}: ${wire.message}`);
  }
}
