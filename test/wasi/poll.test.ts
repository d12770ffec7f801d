/**
 * poll_oneoff: clock subscriptions really sleep; regular files and stdio are
 * always ready; an fd subscription's own error (a bad fd, a missing right)
 * is reported in its event, as poll(2) reports POLLNVAL, and the call
 * succeeds.
 * Layouts: subscription 48 bytes (userdata u64 @0, tag u8 @8, clock id u32 @16,
 * timeout u64 @24, precision u64 @32, flags u16 @40; fd u32 @16);
 * event 32 bytes (userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16).
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#poll_oneoff
 */
import { describe, expect } from 'vitest';
import { ClockId, EventType, Layout, Rights, SubclockFlags } from '../../src/wasi/abi.js';
import { badFd, badPtr, checkCoverage, memEnd, out, row, runCases, tail, wrappingIovCount, type Case, type Fixture, type Subscription } from './harness.js';

const ms = 1_000_000n;

/** Subscriptions in memory, an event buffer for all of them, and the timing of the call. */
function prepare(f: Fixture, ...subs: Subscription[]) {
  const [input, n] = f.subscriptions(...subs);
  return { input, n, events: f.alloc(n * Layout.eventSize), elapsed: 0 };
}

type Prepared = ReturnType<typeof prepare>;

/** Call poll_oneoff over `s`, timing it. */
function poll(f: Fixture, s: Prepared): number {
  const t0 = performance.now();
  const errno = f.w.poll_oneoff(s.input, s.events, s.n, out);
  s.elapsed = performance.now() - t0;
  return errno;
}

const cases: Case[] = [
  row({
    fn: 'poll_oneoff',
    name: 'a relative MONOTONIC clock of 30 ms sleeps at least 30 ms',
    setup: (f) => prepare(f, { userdata: 7n, clock: { id: ClockId.MONOTONIC, timeout: 30n * ms } }),
    call: poll,
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(s.elapsed).toBeGreaterThanOrEqual(30);
      expect(f.u32(out)).toBe(1);
      expect(f.events(s.events, 1)).toEqual([{ userdata: 7n, error: 'SUCCESS', type: EventType.CLOCK, nbytes: 0n }]);
    },
  }),
  row({
    fn: 'poll_oneoff',
    name: 'of two clocks only the earlier fires',
    setup: (f) =>
      prepare(
        f,
        { userdata: 1n, clock: { id: ClockId.MONOTONIC, timeout: 60_000n * ms } },
        { userdata: 2n, clock: { id: ClockId.MONOTONIC, timeout: 5n * ms } },
      ),
    call: poll,
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(s.elapsed).toBeGreaterThanOrEqual(5);
      expect(f.u32(out)).toBe(1);
      expect(f.events(s.events, 1)[0]?.userdata).toBe(2n);
    },
  }),
  row({
    fn: 'poll_oneoff',
    name: 'an absolute REALTIME clock in the past fires at once',
    setup: (f) => prepare(f, { userdata: 3n, clock: { id: ClockId.REALTIME, timeout: 1n, flags: SubclockFlags.ABSTIME } }),
    call: poll,
    errno: 'SUCCESS',
    effect: (f, s) => expect(f.events(s.events, f.u32(out))).toEqual([{ userdata: 3n, error: 'SUCCESS', type: EventType.CLOCK, nbytes: 0n }]),
  }),
  row({
    fn: 'poll_oneoff',
    name: 'fd_read on a file is ready at once with the bytes left; a 5 s clock beside it does not fire',
    setup: (f) => {
      const fd = f.open('file.txt');
      f.read(fd, 4);
      return prepare(f, { userdata: 10n, read: fd }, { userdata: 11n, clock: { id: ClockId.MONOTONIC, timeout: 5000n * ms } });
    },
    call: poll,
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(1);
      expect(f.events(s.events, 1)).toEqual([{ userdata: 10n, error: 'SUCCESS', type: EventType.FD_READ, nbytes: 7n }]);
    },
  }),
  row({
    fn: 'poll_oneoff',
    name: 'fd_write on stdout and fd_read on a file: both ready, in order',
    setup: (f) => prepare(f, { userdata: 20n, write: 1 }, { userdata: 21n, read: f.open('full/a.txt') }),
    call: poll,
    errno: 'SUCCESS',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(2);
      const [w, r] = f.events(s.events, 2);
      expect([w?.userdata, w?.error, w?.type]).toEqual([20n, 'SUCCESS', EventType.FD_WRITE]);
      expect(r).toEqual({ userdata: 21n, error: 'SUCCESS', type: EventType.FD_READ, nbytes: 1n });
    },
  }),
  row({
    fn: 'poll_oneoff',
    name: 'fd_read on unknown fd 99: the event carries EBADF',
    setup: (f) => prepare(f, { userdata: 30n, read: badFd }),
    call: poll,
    errno: 'SUCCESS',
    eventErrno: 'EBADF',
    effect: (f, s) => {
      expect(f.u32(out)).toBe(1);
      expect(f.events(s.events, 1)).toEqual([{ userdata: 30n, error: 'EBADF', type: EventType.FD_READ, nbytes: 0n }]);
    },
  }),
  row({
    fn: 'poll_oneoff',
    name: 'fd_write on a closed fd: the event carries EBADF, the other one succeeds',
    setup: (f) => {
      const fd = f.open('file.txt');
      f.w.fd_close(fd);
      return prepare(f, { userdata: 31n, write: fd }, { userdata: 32n, write: 2 });
    },
    call: poll,
    errno: 'SUCCESS',
    eventErrno: 'EBADF',
    effect: (f, s) => expect(f.events(s.events, f.u32(out)).map((e) => [e.userdata, e.error])).toEqual([[31n, 'EBADF'], [32n, 'SUCCESS']]),
  }),
  row({
    fn: 'poll_oneoff',
    name: 'an fd without POLL_FD_READWRITE: the event carries ENOTCAPABLE',
    setup: (f) => {
      const fd = f.open('file.txt');
      f.dropRights(fd, Rights.POLL_FD_READWRITE);
      return prepare(f, { userdata: 33n, read: fd });
    },
    call: poll,
    errno: 'SUCCESS',
    eventErrno: 'ENOTCAPABLE',
    effect: (f, s) => expect(f.events(s.events, 1)[0]?.error).toBe('ENOTCAPABLE'),
  }),
  row({
    fn: 'poll_oneoff',
    name: 'an unknown clock: the event carries EINVAL',
    setup: (f) => prepare(f, { userdata: 34n, clock: { id: 9, timeout: 0n } }),
    call: poll,
    errno: 'SUCCESS',
    eventErrno: 'EINVAL',
    effect: (f, s) => expect(f.events(s.events, f.u32(out))).toEqual([{ userdata: 34n, error: 'EINVAL', type: EventType.CLOCK, nbytes: 0n }]),
  }),
  row({
    fn: 'poll_oneoff',
    name: 'an unknown event type 3: the event carries EINVAL',
    setup: (f) => prepare(f, { userdata: 35n, tag: 3 }),
    call: poll,
    errno: 'SUCCESS',
    effect: (f, s) => expect(f.events(s.events, f.u32(out)).map((e) => [e.userdata, e.error])).toEqual([[35n, 'EINVAL']]),
  }),
  row({ fn: 'poll_oneoff', name: 'no subscriptions', call: (f) => f.w.poll_oneoff(0x2000, 0x3000, 0, out), errno: 'EINVAL' }),
  row({
    fn: 'poll_oneoff',
    name: 'subscriptions at 0xFFFFFFF0',
    call: (f) => f.w.poll_oneoff(badPtr, 0x3000, 1, out),
    errno: 'EFAULT',
  }),
  row({
    fn: 'poll_oneoff',
    name: 'the second subscription runs past the end of memory',
    setup: (f) => f.put(memEnd - Layout.subscriptionSize, new Uint8Array(8).fill(1)),
    call: (f) => f.w.poll_oneoff(memEnd - Layout.subscriptionSize, 0x3000, 2, out),
    errno: 'EFAULT',
  }),
  row({
    fn: 'poll_oneoff',
    name: 'events at 0xFFFFFFF0',
    setup: (f) => prepare(f, { userdata: 1n, write: 1 }),
    call: (f, s) => f.w.poll_oneoff(s.input, badPtr, s.n, out),
    errno: 'EFAULT',
  }),
  row({
    fn: 'poll_oneoff',
    name: 'room for one event of two before the end of memory: nothing written',
    setup: (f) => prepare(f, { userdata: 1n, write: 1 }, { userdata: 2n, write: 2 }),
    call: (f, s) => f.w.poll_oneoff(s.input, memEnd - Layout.eventSize, s.n, out),
    errno: 'EFAULT',
    effect: (f) => {
      expect(f.u64(memEnd - Layout.eventSize)).toBe(0n);
      expect(f.u32(out)).toBe(0);
    },
  }),
  row({
    fn: 'poll_oneoff',
    name: 'nevents two bytes before the end of memory',
    setup: (f) => prepare(f, { userdata: 1n, write: 1 }),
    call: (f, s) => f.w.poll_oneoff(s.input, s.events, s.n, tail),
    errno: 'EFAULT',
  }),
  row({
    fn: 'poll_oneoff',
    name: 'a count whose array size wraps past 2^32 (0x5555556 * 48 = 2^32 + 32)',
    call: (f) => f.w.poll_oneoff(0x2000, 0x3000, 0x5555556, out),
    errno: 'EFAULT',
  }),
  row({
    fn: 'poll_oneoff',
    name: 'a count of 2^29 subscriptions',
    call: (f) => f.w.poll_oneoff(0, 0, wrappingIovCount, out),
    errno: 'EFAULT',
  }),
];

describe('poll', () => {
  runCases(cases);
  checkCoverage('poll', cases);
});
