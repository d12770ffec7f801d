import { EventType, Layout, Rights as R, SubclockFlags, WasiErrno } from './abi.js';
import { clockNowNs } from './clock.js';
import { GuestDeadline, type WasiContext } from './context.js';
import { FileDescriptor } from './descriptor.js';
import { toErrno } from './errno.js';

interface Ready {
  readonly userdata: bigint;
  readonly error: number;
  readonly type: number;
  readonly nbytes: number;
}

/**
 * Most subscriptions one poll_oneoff call takes (EINVAL past it, as Linux's
 * poll says past RLIMIT_NOFILE). Each costs the host a small record while
 * the call runs, so the count is what bounds its memory and time.
 */
export const defaultMaxPollSubscriptions = 65536;

/**
 * `poll_oneoff`: wait for clock timeouts and fd readiness.
 *
 * Regular files and stdio are always ready (reads of stdin block inside
 * fd_read, as on a terminal), so an fd subscription completes at once with
 * the bytes available. When only clocks are subscribed, the host really
 * sleeps (Atomics.wait) until the earliest one expires, but never past the
 * process deadline. An fd subscription on a bad fd completes with its
 * error in the event, as POSIX poll reports POLLNVAL.
 * At most `maxSubscriptions` ({@link defaultMaxPollSubscriptions}) per call.
 * Errors: EINVAL (no subscriptions), EFAULT, EINVAL (more than the limit).
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#poll_oneoff
 */
export function pollSyscalls(ctx: WasiContext, maxSubscriptions = defaultMaxPollSubscriptions) {
  return {
    poll_oneoff(input: number, output: number, nsubs: number, nevents: number): number {
      const mem = ctx.memory;
      const n = nsubs >>> 0;
      if (n === 0) return WasiErrno.EINVAL;
      const inp = mem.check(input, n * Layout.subscriptionSize);
      const out = mem.check(output, n * Layout.eventSize);
      mem.check(nevents, 4);
      if (n > maxSubscriptions) return WasiErrno.EINVAL;

      const fdEvents: Ready[] = [];
      const clocks: { userdata: bigint; deadline: bigint; id: number; error: number }[] = [];
      for (let i = 0; i < n; i++) {
        const s = inp + i * Layout.subscriptionSize;
        const userdata = mem.dv.getBigUint64(s, true);
        const tag = mem.u8[s + 8]!;
        if (tag === EventType.CLOCK) {
          const id = mem.dv.getUint32(s + 16, true);
          const timeout = mem.dv.getBigUint64(s + 24, true);
          const flags = mem.dv.getUint16(s + 40, true);
          try {
            const now = clockNowNs(ctx, id);
            const deadline = (flags & SubclockFlags.ABSTIME) !== 0 ? timeout : now + timeout;
            clocks.push({ userdata, deadline, id, error: 0 });
          } catch (error) {
            fdEvents.push({ userdata, error: toErrno(error), type: tag, nbytes: 0 });
          }
        } else if (tag === EventType.FD_READ || tag === EventType.FD_WRITE) {
          const fd = mem.dv.getUint32(s + 16, true);
          try {
            const d = ctx.fd(fd, R.POLL_FD_READWRITE);
            let nbytes = 1;
            if (d instanceof FileDescriptor) nbytes = tag === EventType.FD_READ ? Math.max(0, d.node.size - d.position) : 0;
            fdEvents.push({ userdata, error: 0, type: tag, nbytes });
          } catch (error) {
            fdEvents.push({ userdata, error: toErrno(error), type: tag, nbytes: 0 });
          }
        } else {
          fdEvents.push({ userdata, error: WasiErrno.EINVAL, type: tag, nbytes: 0 });
        }
      }

      const events: Ready[] = fdEvents;
      if (events.length === 0) {
        // Only clocks: sleep until the earliest expires.
        let wait = clocks.reduce((min, c) => {
          const left = c.deadline - clockNowNs(ctx, c.id);
          return left < min ? left : min;
        }, BigInt(Number.MAX_SAFE_INTEGER));
        if (wait > 0n) {
          let ms = Number(wait) / 1e6;
          const untilDeadline = ctx.deadline - performance.now();
          if (ms > untilDeadline) {
            Atomics.wait(sleeper(), 0, 0, Math.max(0, untilDeadline));
            throw new GuestDeadline();
          }
          while (ms > 0) {
            Atomics.wait(sleeper(), 0, 0, ms);
            wait = clocks.reduce((min, c) => {
              const left = c.deadline - clockNowNs(ctx, c.id);
              return left < min ? left : min;
            }, BigInt(Number.MAX_SAFE_INTEGER));
            ms = Number(wait) / 1e6;
          }
        }
      }
      for (const c of clocks) {
        if (clockNowNs(ctx, c.id) >= c.deadline) events.push({ userdata: c.userdata, error: 0, type: EventType.CLOCK, nbytes: 0 });
      }

      mem.u8.fill(0, out, out + events.length * Layout.eventSize);
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        const o = out + i * Layout.eventSize;
        mem.dv.setBigUint64(o, e.userdata, true);
        mem.dv.setUint16(o + 8, e.error, true);
        mem.u8[o + 10] = e.type;
        mem.setU64n(o + 16, e.nbytes);
      }
      mem.setU32(nevents, events.length);
      return 0;
    },
  };
}

// Atomics.wait needs a shared cell nobody ever notifies: a pure timed sleep.
// It holds no state, so one cell serves every host; it is made on first use
// because a SharedArrayBuffer per process start costs GC time.
let sleepCell: Int32Array | undefined;
function sleeper(): Int32Array {
  sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
  return sleepCell;
}
