import { performance } from 'node:perf_hooks';
import { ClockId } from './abi.js';
import type { WasiContext } from './context.js';
import { wasiError } from './errno.js';

/** Resolution reported for every clock, in nanoseconds. */
export const clockResolutionNs = 1000;

const two32 = 4294967296;

// `performance` is imported, not read from the global: the global is an accessor
// (Node installs it lazily), and calling its getter on every clock_time_get cost
// ~20 ns of a ~120 ns call (docs/decisions.md).

/**
 * Clocks: `clock_res_get`, `clock_time_get`.
 *
 * MONOTONIC is `performance.now()` in ns since this host started; REALTIME
 * is the wall clock at start plus the same monotonic offset, so the two never
 * disagree within a process. Both are written as two u32 halves: no BigInt on
 * the hot path. CPU-time clocks read `process.cpuUsage()`.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#clock_time_get
 */
export function clockSyscalls(ctx: WasiContext) {
  const startMs = ctx.startMs;
  const epochNs = ctx.epochNs;
  const epochHi = Number(epochNs / BigInt(two32));
  const epochLo = Number(epochNs % BigInt(two32));

  return {
    /** Errors: EINVAL (unknown clock), EFAULT. */
    clock_res_get(id: number, resolution: number): number {
      if (id < 0 || id > ClockId.THREAD_CPUTIME_ID) throw wasiError('EINVAL');
      ctx.memory.setU64n(resolution, clockResolutionNs);
      return 0;
    },

    /** Errors: EINVAL (unknown clock), EFAULT. */
    clock_time_get(id: number, _precision: bigint, time: number): number {
      const mem = ctx.memory;
      if (id === ClockId.MONOTONIC) {
        mem.setU64n(time, Math.floor((performance.now() - startMs) * 1e6));
      } else if (id === ClockId.REALTIME) {
        const mono = Math.floor((performance.now() - startMs) * 1e6);
        let lo = epochLo + (mono % two32);
        let hi = epochHi + Math.floor(mono / two32);
        if (lo >= two32) {
          lo -= two32;
          hi += 1;
        }
        const p = mem.check(time, 8);
        mem.dv.setUint32(p, lo, true);
        mem.dv.setUint32(p + 4, hi, true);
      } else if (id === ClockId.PROCESS_CPUTIME_ID || id === ClockId.THREAD_CPUTIME_ID) {
        const usage = process.cpuUsage();
        mem.setU64n(time, (usage.user + usage.system) * 1000);
      } else {
        throw wasiError('EINVAL');
      }
      return 0;
    },
  };
}

/** A clock in ns, as the guest sees it (for poll_oneoff). Errors: EINVAL. */
export function clockNowNs(ctx: WasiContext, id: number): bigint {
  const mono = BigInt(Math.floor((performance.now() - ctx.startMs) * 1e6));
  if (id === ClockId.MONOTONIC) return mono;
  if (id === ClockId.REALTIME) return ctx.epochNs + mono;
  if (id === ClockId.PROCESS_CPUTIME_ID || id === ClockId.THREAD_CPUTIME_ID) {
    const usage = process.cpuUsage();
    return BigInt(usage.user + usage.system) * 1000n;
  }
  throw wasiError('EINVAL');
}
