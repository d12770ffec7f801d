import type { WasiContext } from './context.js';

/**
 * argv and environ: `args_get`, `args_sizes_get`, `environ_get`, `environ_sizes_get`.
 * Strings are NUL-terminated UTF-8, laid out back to back in the guest's buffer.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#args_get
 */
export function argsSyscalls(ctx: WasiContext) {
  return {
    /** Errors: EFAULT. */
    args_get: (argv: number, buf: number) => copyStrings(ctx, ctx.args, argv, buf),
    /** Errors: EFAULT. */
    args_sizes_get: (count: number, size: number) => writeSizes(ctx, ctx.args, count, size),
    /** Errors: EFAULT. */
    environ_get: (environ: number, buf: number) => copyStrings(ctx, ctx.env, environ, buf),
    /** Errors: EFAULT. */
    environ_sizes_get: (count: number, size: number) => writeSizes(ctx, ctx.env, count, size),
  };
}

function copyStrings(ctx: WasiContext, strings: readonly Uint8Array[], ptrs: number, buf: number): number {
  const mem = ctx.memory;
  mem.check(ptrs, strings.length * 4);
  mem.check(buf, totalBytes(strings));
  let at = buf >>> 0;
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i]!;
    mem.setU32(ptrs + i * 4, at);
    mem.write(at, s);
    at += s.length;
  }
  return 0;
}

function writeSizes(ctx: WasiContext, strings: readonly Uint8Array[], count: number, size: number): number {
  const mem = ctx.memory;
  mem.check(count, 4);
  mem.check(size, 4);
  mem.setU32(count, strings.length);
  mem.setU32(size, totalBytes(strings));
  return 0;
}

function totalBytes(strings: readonly Uint8Array[]): number {
  let n = 0;
  for (const s of strings) n += s.length;
  return n;
}
