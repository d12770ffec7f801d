/**
 * `RunOptions.preopens`: the root as `/` by default, none with `[]`, or the
 * sandbox directories a caller names, by the names the guest sees.
 */
import { describe, expect, it } from 'vitest';
import { Sandbox, StrataError } from '../../src/index.js';
import { maxPreopens, resolvePreopens, type PreopenOption } from '../../src/sandbox/preopens.js';
import { guestBytes, text } from '../support/guests.js';

async function sandboxWithData(): Promise<Sandbox> {
  const sandbox = await Sandbox.create({ tmpfs: { maxBytes: 256 * 1024 } });
  sandbox.mkdir('/data');
  sandbox.writeFile('/file', 'x');
  return sandbox;
}

describe('resolvePreopens', () => {
  it('defaults to the root as /', async () => {
    const sandbox = await sandboxWithData();
    expect(resolvePreopens(sandbox.namespace)).toEqual([{ path: '/', dir: sandbox.namespace.root }]);
  });

  it('keeps the order and the names asked for', async () => {
    const sandbox = await sandboxWithData();
    const got = resolvePreopens(sandbox.namespace, [
      { dir: '/data', as: '/mnt/data' },
      { dir: '/', as: 'root' },
    ]);
    expect(got.map((p) => [p.path, p.dir.ino])).toEqual([
      ['/mnt/data', sandbox.namespace.resolve(sandbox.namespace.root, '/data', true, 'stat').ino],
      ['root', sandbox.namespace.root.ino],
    ]);
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['not an array', { dir: '/', as: '/' }, 'ERR_INVALID_OPTION', /preopens must be an array/],
    ['too many', Array.from({ length: maxPreopens + 1 }, () => ({ dir: '/', as: '/' })), 'ERR_INVALID_OPTION', /at most 64/],
    ['an entry without as', [{ dir: '/' }], 'ERR_INVALID_OPTION', /preopens\[0\]/],
    ['an empty as', [{ dir: '/', as: '' }], 'ERR_INVALID_OPTION', /preopens\[0\]/],
    ['a NUL byte', [{ dir: '/', as: '/' }, { dir: '/da\0ta', as: '/d' }], 'ERR_INVALID_OPTION', /preopens\[1\]/],
    ['a null entry', [null], 'ERR_INVALID_OPTION', /preopens\[0\]/],
    ['a missing directory', [{ dir: '/nope', as: '/nope' }], 'ERR_BAD_PATH', /preopens\[0\] dir '\/nope': ENOENT/],
    ['a file', [{ dir: '/file', as: '/f' }], 'ERR_BAD_PATH', /preopens\[0\] dir '\/file' is not a directory/],
  ];
  it.each(bad)('refuses %s', async (_what, preopens, code, message) => {
    const sandbox = await sandboxWithData();
    let error: unknown;
    try {
      resolvePreopens(sandbox.namespace, preopens as readonly PreopenOption[]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StrataError);
    expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
  });
});

describe('Sandbox.run with preopens', () => {
  it('hands the guest each directory by its name (outside ASCII, as its UTF-8 bytes), from fd 3', async () => {
    const sandbox = await sandboxWithData();
    const { stdout, exitCode } = await sandbox.run(guestBytes('fd-misc'), {
      preopens: [
        { dir: '/', as: '/' },
        { dir: '/data', as: '/data' },
        { dir: '/data', as: '/données/日本' },
      ],
    });
    expect(exitCode).toBe(0);
    const lines = text(stdout).split('\n');
    expect(lines.filter((l) => l.startsWith('preopen'))).toEqual([
      'preopen: type-dir yes, name "/", ok',
      'preopen: type-dir yes, name "/data", ok',
      'preopen: type-dir yes, name "/données/日本", ok',
      'preopens: 3',
    ]);
  });

  it('reaches only what is preopened: /data as /data, and not the rest of the root', async () => {
    const sandbox = await sandboxWithData();
    const only = { preopens: [{ dir: '/data', as: '/data' }] };
    const inData = await sandbox.run(guestBytes('fill'), { ...only, args: ['/data/f'] });
    expect(text(inData.stdout)).toMatch(/^wrote \d+ bytes then ENOSPC\n$/);
    expect(sandbox.readFile('/data/f').length).toBeGreaterThan(0);
    const outside = await sandbox.run(guestBytes('fill'), { ...only, args: ['/f'] });
    expect([outside.exitCode, text(outside.stdout)]).toEqual([1, 'open: ENOTCAPABLE\n']);
  });

  it('runs with no preopen at all: fd 3 does not exist', async () => {
    const sandbox = await sandboxWithData();
    const { exitCode, stdout } = await sandbox.run(guestBytes('fill'), { preopens: [], args: ['/f'] });
    expect([exitCode, text(stdout)]).toEqual([1, 'open: ENOTCAPABLE\n']);
  });

  it('refuses a bad list before the guest starts', async () => {
    const sandbox = await sandboxWithData();
    await expect(sandbox.run(guestBytes('fill'), { preopens: [{ dir: '/nope', as: '/x' }] })).rejects.toMatchObject({ code: 'ERR_BAD_PATH' });
    expect(sandbox.namespace.root.lookup('fill')).toBeUndefined();
  });
});
