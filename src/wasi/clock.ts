import { ClockId } from './abi.js';
import type { WasiContext } from './context.js';
import { wasiError } from './errno.js';

/** Resolution reported for every clock, in nanoseconds. */
export const clockResolutionNs = 1000;

const two32 = 4294967296;

let perf: { now(): number } | undefined;

/**
 * `node:perf_hooks`' performance, loaded on first use (~1.4 ms: a run that
 * reads no clock, as hello's, never loads it). Not the global
 * `performance`: that is an accessor Node installs lazily, and calling its
 * getter on every clock_time_get cost ~20 ns of a ~120 ns call
 * (docs/decisions.md).
 */
export function perfHooks(): { now(): number } {
  return (perf ??= process.getBuiltinModule('node:perf_hooks').performance);
}

/**
 * Milliseconds since `started` (a `process.hrtime()` reading). Not
 * performance.now(): its first read loads `node:perf_hooks`, ~1.4 ms of a
 * CLI start that reads no other clock (docs/decisions.md, "CLI start").
 */
export function elapsedMs(started: [number, number]): number {
  const [s, ns] = process.hrtime(started);
  return s * 1e3 + ns / 1e6;
}

/** The instant of a `process.hrtime()` reading taken earlier, on performance.now()'s clock (ms). */
export function perfMsAt(hr: [number, number]): number {
  return perfHooks().now() - elapsedMs(hr);
}

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
  // Read on the first call, not here: every host module makes each group
  // once over a probe context at load (host.ts, groupOf).
  let performance: { now(): number } | undefined;
  let startMs = 0;
  /** ns on the MONOTONIC clock. */
  const monoNs = (): number => {
    if (performance === undefined) {
      performance = perfHooks();
      startMs = ctx.startMs;
    }
    return Math.floor((performance.now() - startMs) * 1e6);
  };
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
        mem.setU64n(time, monoNs());
      } else if (id === ClockId.REALTIME) {
        const mono = monoNs();
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
  const mono = BigInt(Math.floor((perfHooks().now() - ctx.startMs) * 1e6));
  if (id === ClockId.MONOTONIC) return mono;
  if (id === ClockId.REALTIME) return ctx.epochNs + mono;
  if (id === ClockId.PROCESS_CPUTIME_ID || id === ClockId.THREAD_CPUTIME_ID) {
    const usage = process.cpuUsage();
    return BigInt(usage.user + usage.system) * 1000n;
  }
  throw wasiError('EINVAL');
}
