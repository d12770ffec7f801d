/**
 * Conformance of components: each conformance guest of the preview1
 * differential table (test/conformance/differential.test.ts) runs twice in
 * every root mode, as its preview1 module (guests/bin) and as its
 * component (guests/components, the same module adapted with jco's
 * preview1 command adapter), each in a fresh sandbox of that mode, and
 * both must print the same stdout and stderr and exit the same way.
 *
 * Where the preview1 adapter itself answers differently (it implements
 * preview1 on top of preview2, and some preview1 behaviour has no
 * preview2 counterpart), `adapterDeviations` names the lines and why, so a
 * deviation can never hide a strata bug: each listed line must appear, in
 * the preview1 run, exactly as listed, and the component's line must be
 * the one listed. An entry that no longer matches fails the test.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { openImage, Sandbox, type Image } from '../../src/sandbox/index.js';
import { GuestError } from '../../src/index.js';
import { guestPath } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';
import { componentPath, lines } from './support.js';
import { fileURLToPath } from 'node:url';

interface Case {
  readonly name: string;
  readonly guest: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: string | Uint8Array;
}

const binary = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);

/** The differential table's cases, the same guests, arguments and stdin. */
const cases: readonly Case[] = [
  { name: 'hello', guest: 'hello', args: ['strata'] },
  {
    name: 'args-env',
    guest: 'args-env',
    args: ['a b', '', '--x=1', 'ünï', 'tab\there', '"quoted"'],
    env: { HOME: '/home/guest', EMPTY: '', WITH_EQUALS: 'a=b=c', UNICODE: 'héllo ✓', Z: 'last' },
  },
  {
    name: 'args-huge',
    guest: 'args-huge',
    args: Array.from({ length: 2000 }, (_, i) => `argument-${i}`),
    env: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`VAR_${i}`, 'v'.repeat(i)])),
  },
  { name: 'cat text', guest: 'cat', stdin: 'line one\nline two\nno newline at end' },
  { name: 'cat binary', guest: 'cat', stdin: binary },
  { name: 'cat empty', guest: 'cat', stdin: '' },
  { name: 'exit-code none', guest: 'exit-code' },
  ...[0, 1, 3, 42, 125, 255].map((code) => ({ name: `exit-code ${code}`, guest: 'exit-code', args: [String(code)] })),
  { name: 'flood 1 MiB', guest: 'flood', args: ['1'] },
  ...['clocks', 'random', 'poll-sleep', 'sleep-abs', 'fds', 'fd-misc'].map((g) => ({ name: g, guest: g })),
  // Beyond the differential table: /dev (in the image roots), directory seeks, isatty, fd exhaustion.
  { name: 'dev-nodes', guest: 'dev-nodes', stdin: 'piped in' },
  ...['dir-seek', 'isatty', 'fd-exhaust'].map((g) => ({ name: g, guest: g })),
  ...['files', 'dirs', 'symlinks', 'hardlinks', 'rename', 'readdir', 'seek', 'truncate', 'times', 'unlinked', 'paths'].map((g) => ({ name: `fs-${g}`, guest: `fs-${g}` })),
];

/** A place where jco's preview1 adapter answers differently from strata's preview1 host. */
interface Deviation {
  readonly case: string;
  readonly reason: string;
  /** Each line the preview1 run prints and the line the component prints instead. */
  readonly lines?: readonly { readonly p1: string; readonly p2: string }[];
  /** The component's exit code, where the adapter cannot pass the module's. */
  readonly exitCode?: number;
  /**
   * The adapter traps (`unreachable`) where the preview1 run prints this
   * line; the component's stdout is what it flushed before: a prefix of
   * the preview1 run's, ending before this line.
   */
  readonly trapsAt?: string;
  /** Root modes where the guest never gets that far (a read-only root fails its first write), so the lines are not printed. */
  readonly notIn?: readonly Mode[];
}

const adapterDeviations: readonly Deviation[] = [
  {
    case: 'dev-nodes',
    reason: "the adapter keeps its own position for a device's fd, so lseek moves it (Linux and strata's preview1: a device's position stays 0)",
    lines: ['null', 'zero', 'full', 'random', 'urandom'].flatMap((d) => [
      { p1: `lseek-set-100 /dev/${d}: 0`, p2: `lseek-set-100 /dev/${d}: 100` },
      { p1: `lseek-cur /dev/${d}: 0`, p2: `lseek-cur /dev/${d}: 100` },
    ]),
    notIn: ['tmpfs'],
  },
  {
    case: 'fd-exhaust',
    reason: "the adapter's own descriptor table holds 128 entries and answers ENOMEM when full (strata's preview1: 1024 fds, then EMFILE)",
    lines: [{ p1: 'opened 1020 then EMFILE', p2: 'opened 124 then ENOMEM' }],
    notIn: ['readonly'],
  },
  ...[3, 42, 125, 255].map((code) => ({
    case: `exit-code ${code}`,
    reason: "the adapter's proc_exit calls wasi:cli/exit.exit(result), which carries success or failure only (exit-with-code is unstable and not imported)",
    exitCode: 1,
  })),
  {
    case: 'clocks',
    reason: 'preview2 has no CPU-time clocks: the adapter answers EBADF for them, and for an unknown clock id (preview1: EINVAL)',
    lines: [
      { p1: 'getres-process-cputime: >0 yes, <=1s yes', p2: 'getres-process-cputime: EBADF' },
      { p1: 'getres-thread-cputime: >0 yes, <=1s yes', p2: 'getres-thread-cputime: EBADF' },
      { p1: 'gettime-process-cputime: failures 0, went-back 0', p2: 'gettime-process-cputime: failures 10000, went-back 0' },
      { p1: 'time-get-bad-clock: EINVAL', p2: 'time-get-bad-clock: EBADF' },
      { p1: 'res-get-bad-clock: EINVAL', p2: 'res-get-bad-clock: EBADF' },
    ],
  },
  {
    case: 'sleep-abs',
    reason: 'preview2 subscribes only to the monotonic clock: the adapter answers ENOTSUP for an absolute realtime deadline',
    lines: [{ p1: 'abs-realtime--5ms: ok, deadline-reached yes, under-1s yes', p2: 'abs-realtime--5ms: ENOTSUP, deadline-reached yes, under-1s yes' }],
  },
  {
    case: 'fds',
    reason: 'the adapter answers fd_read on a directory itself, with EBADF (strata preview1: EISDIR, as POSIX)',
    lines: [{ p1: 'read-dir-fd: EISDIR', p2: 'read-dir-fd: EBADF' }],
    notIn: ['readonly'],
  },
  {
    case: 'fd-misc',
    reason: "the command adapter's sock_accept is unreachable!(): the component traps there",
    trapsAt: 'sock-accept-file: ENOTSOCK',
    notIn: ['readonly'],
  },
  {
    case: 'fs-files',
    reason: 'the adapter moves only the first non-empty iovec per fd_write/fd_read (a short count, which POSIX allows)',
    lines: [
      { p1: 'writev: 6', p2: 'writev: 2' },
      { p1: 'readv: 6, parts "a" "bcdef"', p2: 'readv: 1, parts "a" ""' },
    ],
    notIn: ['readonly'],
  },
  {
    case: 'fs-seek',
    reason: 'the adapter answers fd_seek on a closed fd with ESPIPE (strata preview1: EBADF)',
    lines: [{ p1: 'seek-closed: EBADF', p2: 'seek-closed: ESPIPE' }],
    notIn: ['readonly'],
  },
];

const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
let store: ImageStore;
let image: Image;

beforeAll(async () => {
  store = await ImageStore.open(tempDir('strata-component-conformance-'));
  image = await openImage(`oci:${example}`, { store });
});

/** Root modes: an empty tmpfs (no /dev, as the differential run), and the example image as an overlay and read-only. */
type Mode = 'tmpfs' | 'overlay' | 'readonly';
const modes: Record<Mode, () => Promise<Sandbox>> = {
  tmpfs: () => Sandbox.create({ root: 'tmpfs', dev: false, store }),
  overlay: () => Sandbox.create({ image, root: 'overlay', store }),
  readonly: () => Sandbox.create({ image, root: 'readonly', store }),
};

interface Outcome {
  readonly exitCode: number | 'trap';
  readonly stdout: string[];
  readonly stderr: string[];
}

async function run(mode: Mode, path: string, c: Case): Promise<Outcome> {
  const sandbox = await modes[mode]();
  try {
    const r = await sandbox.run(path, {
      args: c.args ?? [],
      env: c.env ?? {},
      argv0: 'guest',
      timeoutMs: 20_000,
      ...(c.stdin === undefined ? {} : { stdin: c.stdin }),
    });
    return { exitCode: r.exitCode, stdout: lines(r.stdout), stderr: lines(r.stderr) };
  } catch (error) {
    if (!(error instanceof GuestError) || error.code !== 'ERR_GUEST_TRAP') throw error;
    return { exitCode: 'trap', stdout: lines(error.stdout), stderr: lines(error.stderr) };
  }
}

/** The preview1 run's stdout with each deviating line replaced by the component's line. */
function expectedStdout(c: Case, p1: readonly string[], deviations: readonly Deviation[]): string[] {
  const expected = [...p1];
  for (const d of deviations) {
    for (const { p1: line, p2 } of d.lines ?? []) {
      const at = expected.flatMap((l, i) => (l === line ? [i] : []));
      if (at.length !== 1) throw new Error(`adapterDeviations for ${c.name} (${d.reason}): expected the preview1 run to print ${JSON.stringify(line)} once, found it ${at.length} times`);
      expected[at[0]!] = p2;
    }
  }
  return expected;
}

describe('components match their preview1 modules', () => {
  it('lists each deviation against a known case', () => {
    const names = new Set(cases.map((c) => c.name));
    expect(adapterDeviations.filter((d) => !names.has(d.case)).map((d) => d.case)).toEqual([]);
  });

  for (const mode of Object.keys(modes) as (keyof typeof modes)[]) {
    describe(`${mode} root`, () => {
      for (const c of cases) {
        const deviations = adapterDeviations.filter((d) => d.case === c.name && !(d.notIn ?? []).includes(mode));
        const trapsAt = deviations.find((d) => d.trapsAt !== undefined)?.trapsAt;
        it(c.name, async () => {
          const p1 = await run(mode, guestPath(c.guest), c);
          const p2 = await run(mode, componentPath(c.guest), c);
          if (trapsAt !== undefined) {
            const at = p1.stdout.indexOf(trapsAt);
            expect(at, `the preview1 run no longer prints ${trapsAt}`).toBeGreaterThan(0);
            expect(p2.exitCode).toBe('trap');
            expect(p2.stderr.join('\n')).toMatch(/unreachable executed at adapter line \d+/);
            const flushed = p2.stdout.slice(0, -1);
            expect(flushed.length).toBeGreaterThan(0);
            expect(flushed).toEqual(p1.stdout.slice(0, flushed.length));
            expect(flushed.length).toBeLessThanOrEqual(at);
            return;
          }
          expect(p2.stdout).toEqual(expectedStdout(c, p1.stdout, deviations));
          expect(p2.stderr).toEqual(p1.stderr);
          expect(p2.exitCode).toBe(deviations.find((d) => d.exitCode !== undefined)?.exitCode ?? p1.exitCode);
        });
      }
    });
  }
});
