import { GuestDeadline, type WasiContext } from './context.js';

/**
 * Bytes filled per native call. Node refuses offsets past 2^31 and sizes
 * of 2 GiB or more, and one call cannot be interrupted, so a large buffer
 * is filled a chunk at a time, through a view that starts at 0, with the
 * deadline checked between chunks.
 */
export const randomChunkBytes = 1 << 20;

// node:crypto loads on the first random_get, not with the CLI: most runs
// never ask, and it costs ~5 ms of a start (docs/decisions.md, "CLI start").
let randomFillSync: typeof import('node:crypto').randomFillSync | undefined;

/**
 * `random_get`: fill a guest buffer from the host CSPRNG.
 *
 * Any buffer that lies in memory is filled, whatever its address or size
 * (above 2 GiB, or 2 GiB and more), one {@link randomChunkBytes} chunk at a
 * time; past the process deadline the call stops between two chunks.
 * Errors: EFAULT.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#random_get
 */
export function randomSyscalls(ctx: WasiContext) {
  return {
    random_get(buf: number, len: number): number {
      const mem = ctx.memory;
      const p = mem.check(buf, len);
      const n = len >>> 0;
      if (n === 0) return 0;
      const u8 = mem.u8;
      const fill = (randomFillSync ??= process.getBuiltinModule('node:crypto').randomFillSync);
      if (n <= randomChunkBytes && p + n <= 0x7fffffff) {
        fill(u8, p, n);
        return 0;
      }
      for (let done = 0; done < n; done += randomChunkBytes) {
        if (done > 0 && performance.now() > ctx.deadline) throw new GuestDeadline();
        fill(u8.subarray(p + done, p + Math.min(n, done + randomChunkBytes)));
      }
      return 0;
    },
  };
}
