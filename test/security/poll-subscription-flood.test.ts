/**
 * Issue 8, item 6: poll_oneoff allocated a record per subscription with no
 * cap. One call with 66M subscriptions (in a 3 GiB memory) took the host
 * past 8 GB and the timeout never fired. The count is now capped
 * (defaultMaxPollSubscriptions, EINVAL past it, checked before anything
 * is read), which bounds the call's memory and time.
 */
import { describe, expect, it } from 'vitest';
import { WasiErrno } from '../../src/wasi/index.js';
import { defaultMaxPollSubscriptions } from '../../src/wasi/poll.js';
import { directHost } from './direct-host.js';

const subSize = 48;
const eventSize = 32;

describe('a poll_oneoff flood', () => {
  it(`one subscription over the cap (${defaultMaxPollSubscriptions}) is EINVAL, and no event is written`, () => {
    const n = defaultMaxPollSubscriptions + 1;
    const out = n * subSize;
    const h = directHost({ pages: Math.ceil((out + n * eventSize + 8) / 65536) });
    // Zeroed subscriptions are realtime clocks expiring now: all would fire.
    h.dv().setUint32(out + n * eventSize, 0xdead, true);
    expect(h.w['poll_oneoff']!(0, out, n, out + n * eventSize)).toBe(WasiErrno.EINVAL);
    expect(h.dv().getUint32(out + n * eventSize, true)).toBe(0xdead);
    expect(h.u8().subarray(out, out + eventSize).every((b) => b === 0)).toBe(true);
  });

  it('exactly the cap is served', () => {
    const n = defaultMaxPollSubscriptions;
    const out = n * subSize;
    const h = directHost({ pages: Math.ceil((out + n * eventSize + 8) / 65536) });
    expect(h.w['poll_oneoff']!(0, out, n, out + n * eventSize)).toBe(0);
    expect(h.dv().getUint32(out + n * eventSize, true)).toBe(n);
  });

  it('66M subscriptions in a 3.2 GiB memory: EINVAL at once, with no host allocation', () => {
    const n = 66_000_000;
    const h = directHost({ pages: Math.ceil((n * subSize) / 65536) + 1, maxPages: 65536 });
    const before = process.memoryUsage().rss;
    const started = performance.now();
    expect(h.w['poll_oneoff']!(0, 0, n, 0)).toBe(WasiErrno.EINVAL);
    expect(performance.now() - started).toBeLessThan(100);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
  });

  it('a count whose arrays do not fit in memory stays EFAULT', () => {
    const h = directHost({ pages: 1 });
    expect(h.w['poll_oneoff']!(0, 0, 0x10000000, 0)).toBe(WasiErrno.EFAULT);
  });
});
