import type { WasiContext } from './context.js';
import { wasiError } from './errno.js';

/**
 * Sockets: `sock_accept`, `sock_recv`, `sock_send`, `sock_shutdown`.
 *
 * Sockets are not supported yet: no socket fd is ever handed to a guest.
 * So every call checks its fd (EBADF for a closed one) and then answers
 * ENOTSOCK, POSIX's answer for an fd that is not a socket, which every
 * open fd is. Networking is a later issue; see docs/decisions.md.
 */
export function sockSyscalls(ctx: WasiContext) {
  const unsupported = (fd: number): number => {
    ctx.fds.get(fd);
    throw wasiError('ENOTSOCK');
  };
  return {
    sock_accept: (fd: number, _flags: number, _result: number) => unsupported(fd),
    sock_recv: (fd: number, _riData: number, _riDataLen: number, _riFlags: number, _roDataLen: number, _roFlags: number) =>
      unsupported(fd),
    sock_send: (fd: number, _siData: number, _siDataLen: number, _siFlags: number, _soDataLen: number) => unsupported(fd),
    sock_shutdown: (fd: number, _how: number) => unsupported(fd),
  };
}
