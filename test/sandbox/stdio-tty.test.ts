/**
 * Truthful stdio: a guest's stream is a terminal (isatty() 1) only when the
 * API caller says `tty`, or when the CLI's own fd is a terminal. The isatty
 * guest also shows the consequence for libc's buffering.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Sandbox, StrataError, type RunOptions } from '../../src/index.js';
import { guestPath } from '../support/guests.js';
import { requireTool } from '../support/host-tool.js';

const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const isattyGuest = guestPath('isatty');

/**
 * Run the isatty guest with `tty`: its stdout, and stdout and stderr merged
 * in the order they were written (adjacent writes to one stream joined).
 */
async function runIsatty(tty: RunOptions['tty']): Promise<{ stdout: string; merged: string[] }> {
  const sandbox = await Sandbox.create();
  const merged: string[] = [];
  let stdout = '';
  const dec = new TextDecoder();
  const add = (stream: string, text: string) => {
    const last = merged.length - 1;
    if (last >= 0 && merged[last]!.startsWith(`${stream}:`)) merged[last] += text;
    else merged.push(`${stream}:${text}`);
  };
  const r = await sandbox.run(isattyGuest, {
    ...(tty === undefined ? {} : { tty }),
    stdout: (c) => {
      stdout += dec.decode(c);
      add('out', dec.decode(c));
    },
    stderr: (c) => add('err', dec.decode(c)),
  });
  expect(r.exitCode).toBe(0);
  return { stdout, merged };
}

const notTty = ['isatty(0): 0 ENOTTY', 'isatty(1): 0 ENOTTY', 'isatty(2): 0 ENOTTY'];
const allTty = ['isatty(0): 1', 'isatty(1): 1', 'isatty(2): 1'];

describe('stdio through the API', () => {
  it('is not a terminal by default: isatty() is 0 and stdout is fully buffered (the rest flushed at exit, after stderr)', async () => {
    const { stdout, merged } = await runIsatty(undefined);
    expect(stdout).toBe([...notTty, 'stdout end', ''].join('\n'));
    expect(merged).toEqual([`out:${notTty[0]}\n`, 'err:stderr line\n', `out:${[...notTty.slice(1), 'stdout end', ''].join('\n')}`]);
  });

  it('tty: false is the same as the default', async () => {
    expect((await runIsatty(false)).stdout).toBe([...notTty, 'stdout end', ''].join('\n'));
  });

  it('tty: true makes all three terminals: isatty() is 1 and stdout is line-buffered', async () => {
    const { merged } = await runIsatty(true);
    expect(merged).toEqual([`out:${allTty.join('\n')}\n`, 'err:stderr line\n', 'out:stdout end\n']);
  });

  it('tty per stream', async () => {
    const { stdout } = await runIsatty({ stdout: true });
    expect(stdout.split('\n').slice(0, 3)).toEqual(['isatty(0): 0 ENOTTY', 'isatty(1): 1', 'isatty(2): 0 ENOTTY']);
    const other = await runIsatty({ stdin: true, stderr: true });
    expect(other.stdout.split('\n').slice(0, 3)).toEqual(['isatty(0): 1', 'isatty(1): 0 ENOTTY', 'isatty(2): 1']);
  });

  it('refuses a tty option that is not a boolean or per-stream booleans (ERR_INVALID_OPTION)', async () => {
    const sandbox = await Sandbox.create();
    for (const tty of ['yes', { stdout: 1 }, { stdio: true }, null]) {
      const error = await sandbox.run(isattyGuest, { tty } as unknown as RunOptions).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StrataError);
      expect((error as StrataError).code).toBe('ERR_INVALID_OPTION');
    }
  });
});

describe('stdio through the CLI', () => {
  it('piped, no stream is a terminal', () => {
    const r = spawnSync(process.execPath, [bin, 'run', isattyGuest], { input: '', encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('stderr line\n');
    expect(r.stdout).toBe([...notTty, 'stdout end', ''].join('\n'));
    expect(r.status).toBe(0);
  });

  it('stdin from /dev/null (a character device, not a terminal), output into one pipe: none', () => {
    const r = spawnSync('sh', ['-c', `"$0" "$1" run "$2" < /dev/null 2>&1 | cat`, process.execPath, bin, isattyGuest], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toBe([notTty[0], 'stderr line', ...notTty.slice(1), 'stdout end', ''].join('\n'));
  });

  describe.skipIf(process.platform !== 'linux' || !requireTool('script'))('under a pseudo-terminal (util-linux script)', () => {
    it('all three are terminals, and stdout is line-buffered', () => {
      const command = [process.execPath, bin, 'run', isattyGuest].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { input: '', encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(0);
      // The terminal turns \n into \r\n; stdout and stderr share it, in the order written.
      expect(r.stdout.replace(/\r\n/g, '\n')).toBe([...allTty, 'stderr line', 'stdout end', ''].join('\n'));
    });
  });
});
