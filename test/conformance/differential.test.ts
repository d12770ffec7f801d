/**
 * Differential conformance: every conformance guest (guests/src) runs under
 * node:wasi over a fresh host directory and under strata over a fresh tmpfs
 * root, and both must print the same stdout and stderr and exit the same way.
 *
 * node:wasi (uvwasi) is the POSIX oracle only where it is correct. Where it
 * is not, `nodeWasiDeviations` names the lines it gets wrong and the POSIX
 * line strata must print instead, so a deviation can never hide a strata
 * bug. An entry whose node line no longer appears fails the test: node:wasi
 * was fixed and the entry must go.
 *
 * node:wasi runs in a child process: uvwasi hangs on some calls and crashes
 * on others (see guests/README.md), and neither may take the test runner
 * down with it.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/index.js';
import { guestBytes, guestPath } from '../support/guests.js';

/** One run of a guest: its argv after argv[0], env and stdin. */
interface Case {
  /** Unique name: the guest, or "guest label" when a guest runs several ways. */
  readonly name: string;
  readonly guest: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: string | Uint8Array;
}

/** What a run printed and how it ended. */
interface Outcome {
  readonly exitCode: number;
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
}

/** A place where node:wasi itself departs from POSIX. */
interface Deviation {
  /** The case it applies to. */
  readonly case: string;
  /** What uvwasi does wrong. */
  readonly reason: string;
  /**
   * Each line node:wasi prints (the exact text, or a pattern for the whole
   * line) and the POSIX line strata must print in its place (or one of them,
   * where POSIX allows several errors). Where WASI's path rules apply (a
   * path argument climbing above its preopen), the line is WASI's.
   */
  readonly lines?: readonly { readonly node: string | RegExp; readonly posix: string | readonly string[] }[];
  /** node:wasi never returns from this guest; strata's stdout must be exactly these lines. */
  readonly nodeHangs?: readonly string[];
}

const argv0 = 'guest';
const timeoutMs = 20_000;

const binary = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);

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
  { name: 'clocks', guest: 'clocks' },
  { name: 'random', guest: 'random' },
  { name: 'poll-sleep', guest: 'poll-sleep' },
  { name: 'sleep-abs', guest: 'sleep-abs' },
  { name: 'fds', guest: 'fds' },
  { name: 'fd-misc', guest: 'fd-misc' },
  { name: 'fs-files', guest: 'fs-files' },
  { name: 'fs-dirs', guest: 'fs-dirs' },
  { name: 'fs-symlinks', guest: 'fs-symlinks' },
  { name: 'fs-hardlinks', guest: 'fs-hardlinks' },
  { name: 'fs-rename', guest: 'fs-rename' },
  { name: 'fs-readdir', guest: 'fs-readdir' },
  { name: 'fs-seek', guest: 'fs-seek' },
  { name: 'fs-truncate', guest: 'fs-truncate' },
  { name: 'fs-times', guest: 'fs-times' },
  { name: 'fs-unlinked', guest: 'fs-unlinked' },
  { name: 'fs-paths', guest: 'fs-paths' },
];

/** Where node:wasi (Node 20's uvwasi) departs from POSIX, found by running the guests. */
const nodeWasiDeviations: readonly Deviation[] = [
  {
    case: 'fs-readdir',
    reason: 'uvwasi leaves "." and ".." out of fd_readdir',
    lines: [
      { node: 'empty-dir: dot 0, dotdot 0, other 0', posix: 'empty-dir: dot 1, dotdot 1, other 0' },
      { node: 'raw-dots: 0', posix: 'raw-dots: 2' },
    ],
  },
  {
    case: 'fs-readdir',
    reason: 'uvwasi readdir cookies are entry counts, so entries shift when the directory changes: untouched entries are skipped or repeated',
    lines: [
      { node: /^libc-readdir-while-mutating: untouched 200, missing \d+, duplicated \d+$/, posix: 'libc-readdir-while-mutating: untouched 200, missing 0, duplicated 0' },
      { node: /^raw-readdir-while-mutating: untouched 200, missing \d+, duplicated \d+$/, posix: 'raw-readdir-while-mutating: untouched 200, missing 0, duplicated 0' },
    ],
  },
  {
    case: 'fs-readdir',
    reason: 'uvwasi fills d_ino from libuv dirents, which carry no inode number',
    lines: [{ node: 'd_ino-matches-st_ino: no (4 entries)', posix: 'd_ino-matches-st_ino: yes (4 entries)' }],
  },
  {
    case: 'fs-rename',
    reason: 'uvwasi keeps a path, not the directory, behind a directory fd: after the directory is renamed, names under the fd resolve at the old path',
    lines: [
      { node: 'openat-in-renamed-dir: ENOENT', posix: 'openat-in-renamed-dir: ok' },
      { node: 'openat-in-renamed-dir-read: ', posix: 'openat-in-renamed-dir-read: in-dir' },
      { node: 'create-in-renamed-dir: ENOENT', posix: 'create-in-renamed-dir: ok' },
      { node: 'renamed-dir: f', posix: 'renamed-dir: f g' },
    ],
  },
  {
    case: 'fs-symlinks',
    reason: 'uvwasi resolves symlinks itself and differs from POSIX path resolution: ".." after a symlink is taken lexically, O_NOFOLLOW and O_CREAT|O_EXCL follow a final symlink, at most 31 links are followed (Linux and strata: 40), and readlink into a short buffer fails instead of truncating',
    lines: [
      { node: 'dotdot-after-link: ENOENT', posix: 'dotdot-after-link: "deep-parent"' },
      { node: 'open-nofollow-link: ok', posix: 'open-nofollow-link: ELOOP' },
      { node: 'create-excl-through-dangling: ok', posix: 'create-excl-through-dangling: EEXIST' },
      { node: 'read-chain-of-40: ELOOP', posix: 'read-chain-of-40: "via-link"' },
      { node: 'readlink-short-buffer: ENOBUFS', posix: 'readlink-short-buffer: "tar" (3)' },
    ],
  },
  {
    case: 'fs-paths',
    reason: 'uvwasi normalizes "file/.." lexically instead of failing on the non-directory',
    lines: [{ node: 'stat-file-dotdot: ok', posix: 'stat-file-dotdot: ENOTDIR' }],
  },
  {
    case: 'fs-paths',
    reason:
      'uvwasi normalizes ".." lexically and clamps it at the preopen, so a path whose ".." climbs above its preopen resolves; ' +
      "WASI's path rule (the wasi-testsuite's interesting_paths, wasmtime) refuses it, and strata answers EPERM (docs/decisions.md)",
    lines: [
      { node: 'root-dotdot-same: yes', posix: 'root-dotdot-same: EPERM' },
      { node: 'root-dotdot3-same: yes', posix: 'root-dotdot3-same: EPERM' },
      { node: 'read-via-root-dotdot: "file-data"', posix: 'read-via-root-dotdot: EPERM' },
      { node: 'read-via-deep-dotdot: "file-data"', posix: 'read-via-deep-dotdot: EPERM' },
      { node: 'root-dotdot-same-inode: yes', posix: 'root-dotdot-same-inode: EPERM' },
      { node: 'read-relative-dotdot: "file-data"', posix: 'read-relative-dotdot: EPERM' },
      { node: 'mkdir-at-root-dotdot: ok', posix: 'mkdir-at-root-dotdot: EPERM' },
      { node: 'stat-made-via-dotdot: ok', posix: 'stat-made-via-dotdot: ENOENT' },
    ],
  },
  {
    case: 'fs-dirs',
    reason: 'uvwasi normalizes "dir/." lexically, so rmdir("dir/.") removes dir instead of failing with EINVAL',
    lines: [{ node: 'rmdir-dot: ok', posix: 'rmdir-dot: EINVAL' }],
  },
  {
    case: 'fs-times',
    reason: 'uvwasi passes times to libuv as whole seconds and drops the nanoseconds',
    lines: [
      {
        node: 'nanoseconds: atime 1000000001.000000000 mtime 1200000002.000000000',
        posix: 'nanoseconds: atime 1000000001.123456789 mtime 1200000002.987654321',
      },
    ],
  },
  {
    case: 'fs-truncate',
    reason: 'uvwasi checks WASI rights and answers ENOTCAPABLE, not a POSIX error, for an fd not open for writing (POSIX: EBADF or EINVAL; Linux: EINVAL)',
    lines: [{ node: 'ftruncate-readonly: ENOTCAPABLE', posix: ['ftruncate-readonly: EINVAL', 'ftruncate-readonly: EBADF'] }],
  },
  {
    case: 'fds',
    reason: 'uvwasi gives directory fds no read right (ENOTCAPABLE, which wasi-libc turns into EBADF) where POSIX says EISDIR, and fd_fdstat_get does not report flags set by fd_fdstat_set_flags',
    lines: [
      { node: 'read-dir-fd: EBADF', posix: 'read-dir-fd: EISDIR' },
      { node: 'getfl-after-setfl: append no', posix: 'getfl-after-setfl: append yes' },
    ],
  },
  {
    case: 'fd-misc',
    reason: 'uvwasi answers socket calls on a regular file with ENOTCAPABLE (rights) or ENOTSUP; POSIX says ENOTSOCK',
    lines: [
      { node: 'sock-accept-file: ENOTCAPABLE', posix: 'sock-accept-file: ENOTSOCK' },
      { node: 'sock-recv-file: ENOTCAPABLE', posix: 'sock-recv-file: ENOTSOCK' },
      { node: 'sock-send-file: ENOTCAPABLE', posix: 'sock-send-file: ENOTSOCK' },
      { node: 'sock-shutdown-file: ENOTSUP', posix: 'sock-shutdown-file: ENOTSOCK' },
    ],
  },
  {
    case: 'poll-sleep',
    reason: 'uvwasi polls fds with libuv, which cannot poll regular files (EPERM); POSIX says they are always ready',
    lines: [
      { node: 'poll-file-in: -1 EPERM, revents-pollin no', posix: 'poll-file-in: 1 ok, revents-pollin yes' },
      { node: 'poll-file-out: -1, revents-pollout no', posix: 'poll-file-out: 1, revents-pollout yes' },
      { node: 'poll-file-inout-no-wait: -1, in no, out no', posix: 'poll-file-inout-no-wait: 1, in yes, out yes' },
    ],
  },
  {
    case: 'poll-sleep',
    reason:
      "uvwasi's relative sleeps can end up to ~1 ms early by the guest's monotonic clock: it truncates the timeout to whole ms and " +
      "arms a libuv timer on a loop clock that counts whole ms (uvwasi's src/poll_oneoff.c), so node:wasi sometimes prints \"no\" for an " +
      'elapsed check; POSIX (and strata) sleep at least the time asked',
    lines: ['nanosleep-elapsed>=20ms', 'clock-nanosleep-rel-elapsed>=15ms', 'clock-nanosleep-abs-realtime-elapsed>=20ms', 'usleep-elapsed>=10ms', 'poll-timeout-elapsed>=10ms'].map(
      (check) => ({ node: new RegExp(`^${check}: (yes|no)$`), posix: `${check}: yes` }),
    ),
  },
  {
    case: 'sleep-abs',
    reason: 'uvwasi never returns from poll_oneoff with an absolute deadline on the monotonic clock, or one already past',
    nodeHangs: [
      'abs-monotonic-+25ms: ok, deadline-reached yes, under-1s yes',
      'abs-monotonic--5ms: ok, deadline-reached yes, under-1s yes',
      'abs-realtime--5ms: ok, deadline-reached yes, under-1s yes',
      'abs-monotonic-now: ok, deadline-reached yes, under-1s yes',
    ],
  },
];

/** How long node:wasi gets before it counts as hung. */
const nodeHangMs = 3_000;

/** The node:wasi side, run by `node -e` in a child: argv[1] is a JSON job. */
const nodeWasiRunner = `
import { WASI } from 'node:wasi';
import { closeSync, openSync, readFileSync } from 'node:fs';
const job = JSON.parse(process.argv[1]);
const fds = [openSync(job.stdin, 'r'), openSync(job.stdout, 'w'), openSync(job.stderr, 'w')];
const wasi = new WASI({
  version: 'preview1', args: job.argv, env: job.env, preopens: { '/': job.root },
  returnOnExit: true, stdin: fds[0], stdout: fds[1], stderr: fds[2],
});
const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(job.wasm)), wasi.getImportObject());
let result;
try { result = { exitCode: wasi.start(instance) }; } catch (error) { result = { error: String(error) }; }
for (const fd of fds) closeSync(fd);
process.stdout.write(JSON.stringify(result));
`;

/** Run a case under node:wasi with a fresh temporary directory preopened as "/". `undefined` when it hangs. */
async function runNodeWasi(c: Case, hangMs: number): Promise<Outcome | undefined> {
  const work = await mkdtemp(join(tmpdir(), 'strata-differential-'));
  try {
    const root = join(work, 'root');
    await mkdir(root);
    await writeFile(join(work, 'stdin'), c.stdin ?? '');
    const job = {
      wasm: guestPath(c.guest),
      argv: [argv0, ...(c.args ?? [])],
      env: c.env ?? {},
      root,
      stdin: join(work, 'stdin'),
      stdout: join(work, 'stdout'),
      stderr: join(work, 'stderr'),
    };
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', nodeWasiRunner, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), hangMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (code, signal) => resolve([code, signal])),
    );
    clearTimeout(timer);
    if (signal === 'SIGKILL') return undefined;
    if (code !== 0) throw new Error(`node:wasi runner for ${c.name} failed (${code ?? signal}): ${err}`);
    const result = JSON.parse(out) as { exitCode?: number; error?: string };
    if (result.exitCode === undefined) throw new Error(`node:wasi: ${c.name} did not exit: ${result.error ?? out}`);
    return {
      exitCode: result.exitCode,
      stdout: await readFile(job.stdout),
      stderr: await readFile(job.stderr),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Run a case under strata with a fresh, empty tmpfs root. */
async function runStrata(c: Case): Promise<Outcome> {
  // No /dev: node:wasi's root is a fresh host directory, which has none.
  const sandbox = await Sandbox.create({ root: 'tmpfs', dev: false });
  return sandbox.run(guestBytes(c.guest), {
    args: c.args ?? [],
    env: c.env ?? {},
    argv0,
    timeoutMs,
    ...(c.stdin === undefined ? {} : { stdin: c.stdin }),
  });
}

/** Bytes as lines, byte for byte (latin1 keeps every byte one char). */
function lines(bytes: Uint8Array): string[] {
  return Buffer.from(bytes).toString('latin1').split('\n');
}

/**
 * What strata must print, given what it did print: node's output with each
 * deviating line replaced by its POSIX line. Where POSIX allows several
 * lines, strata's own line is taken if it is one of them.
 */
function expectedFromNode(c: Case, node: Outcome, deviations: readonly Deviation[], strata: readonly string[]): string[] {
  const expected = lines(node.stdout);
  for (const deviation of deviations) {
    for (const { node: pattern, posix } of deviation.lines ?? []) {
      const at = expected.flatMap((line, i) => ((typeof pattern === 'string' ? line === pattern : pattern.test(line)) ? [i] : []));
      const i = at[0];
      if (at.length !== 1 || i === undefined) {
        throw new Error(
          `nodeWasiDeviations for ${c.name} (${deviation.reason}): expected node:wasi to print ${String(pattern)} once, ` +
            `found it ${at.length} times; if node:wasi was fixed, remove the entry. node:wasi printed:\n${expected.join('\n')}`,
        );
      }
      const allowed: readonly string[] = typeof posix === 'string' ? [posix] : posix;
      const actual = strata[i];
      expected[i] = actual !== undefined && allowed.includes(actual) ? actual : (allowed[0] ?? '');
    }
  }
  return expected;
}

describe('differential conformance: strata vs node:wasi', () => {
  it('lists each deviation against a known case', () => {
    const names = new Set(cases.map((c) => c.name));
    expect(nodeWasiDeviations.filter((d) => !names.has(d.case)).map((d) => d.case)).toEqual([]);
  });

  for (const c of cases) {
    const deviations = nodeWasiDeviations.filter((d) => d.case === c.name);
    const hangs = deviations.find((d) => d.nodeHangs !== undefined)?.nodeHangs;

    it(c.name, async () => {
      const strata = await runStrata(c);
      if (hangs !== undefined) {
        // Check that node:wasi still hangs, so the entry cannot go stale.
        expect(await runNodeWasi(c, nodeHangMs), 'node:wasi no longer hangs: turn this entry into line deviations').toBeUndefined();
        expect(lines(strata.stdout)).toEqual([...hangs, '']);
        expect(strata.exitCode).toBe(0);
        return;
      }
      const node = await runNodeWasi(c, timeoutMs);
      if (node === undefined) throw new Error(`node:wasi did not finish ${c.name} within ${timeoutMs} ms`);
      const strataLines = lines(strata.stdout);
      expect(strataLines).toEqual(expectedFromNode(c, node, deviations, strataLines));
      expect(lines(strata.stderr)).toEqual(lines(node.stderr));
      expect(strata.exitCode).toBe(node.exitCode);
    });
  }
});
