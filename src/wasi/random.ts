import { randomFillSync } from 'node:crypto';
import type { WasiContext } from './context.js';

/**
 * `random_get`: fill a guest buffer from the host CSPRNG.
 * Errors: EFAULT.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#random_get
 */
export function randomSyscalls(ctx: WasiContext) {
  return {
    random_get(buf: number, len: number): number {
      const mem = ctx.memory;
      const p = mem.check(buf, len);
      if (len !== 0) randomFillSync(mem.u8, p, len >>> 0);
      return 0;
    },
  };
}
