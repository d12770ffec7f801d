import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';

// The built CLI, as users run it, with a private store per test file.
const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));
const home = tempDir('strata-cli-home-');
const image = 'oci:examples/hello-image';

function strata(args: string[], options: { input?: string; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { input: options.input ?? '', cwd: options.cwd ?? repo, encoding: 'utf8', timeout: 60_000, env: { ...process.env, STRATA_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('strata run IMAGE', () => {
  it('pulls a missing image (progress on stderr) and runs its Cmd', () => {
    const r = strata(['run', '--rm', image]);
    expect(r).toMatchObject({ status: 0, stdout: 'hello, world\n' });
    expect(r.stderr).toContain('pulled');
    expect(strata(['images']).stdout).toContain('hello-image');
  });

  it('runs a command given after the image, found through the image PATH', () => {
    expect(strata(['run', '--rm', '-q', image, '--', 'hello', 'strata'])).toMatchObject({ status: 0, stdout: 'hello, strata\n', stderr: '' });
    expect(strata(['run', '--rm', '-q', image, 'fsbox', 'cat', '/etc/motd']).stdout).toBe('Welcome to the strata example image.\n');
  });

  it('--read-only: writes fail with EROFS, /tmp is writable, the exit code is the guest\'s', () => {
    const r = strata(['run', '--rm', '-q', '--read-only', image, 'fsbox', 'write', '/etc/motd', 'x']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Read-only file system');
    expect(strata(['run', '--rm', '-q', '--read-only', image, 'fsbox', 'write', '/tmp/x', 'x']).status).toBe(0);
  });

  it('-v HOST:CTR keeps what the guest writes on the host; :ro refuses writes', () => {
    const out = tempDir('strata-cli-out-');
    expect(strata(['run', '--rm', '-q', '-v', `${out}:/out`, image, 'fsbox', 'write', '/out/result.txt', 'kept']).status).toBe(0);
    expect(readFileSync(join(out, 'result.txt'), 'utf8')).toBe('kept');
    const ro = strata(['run', '--rm', '-q', '-v', `${out}:/out:ro`, image, 'fsbox', 'write', '/out/other', 'x']);
    expect(ro.stderr).toContain('Read-only file system');
  });

  it('a module file can have mounts too, so its results are not lost', () => {
    const out = tempDir('strata-cli-out-');
    expect(strata(['run', '-v', `${out}:/out`, guestPath('fsbox'), '--', 'write', '/out/f', 'from a module']).status).toBe(0);
    expect(readFileSync(join(out, 'f'), 'utf8')).toBe('from a module');
  });

  it('--tmpfs with a size, and --mount in docker spelling', () => {
    const small = strata(['run', '--rm', '-q', '--tmpfs', '/s:size=1k', image, 'fsbox', 'write', '/s/a', 'x'.repeat(4096)]);
    expect(small.stderr).toContain('No space left on device');
    const out = tempDir('strata-cli-out-');
    expect(strata(['run', '--rm', '-q', '--mount', `type=bind,src=${out},dst=/o`, image, 'fsbox', 'write', '/o/m', 'via --mount']).status).toBe(0);
    expect(readFileSync(join(out, 'm'), 'utf8')).toBe('via --mount');
  });

  it('an overlay mount: --diff prints the changes, the host is untouched; --apply writes them back', () => {
    const work = tempDir('strata-cli-work-');
    writeFileSync(join(work, 'a.txt'), 'original');
    const diff = strata(['run', '--rm', '-q', '-v', `${work}:/work:overlay`, '--diff', image, 'fsbox', 'write', '/work/a.txt', 'changed']);
    expect(diff.status).toBe(0);
    expect(diff.stderr).toContain('C /a.txt');
    expect(readFileSync(join(work, 'a.txt'), 'utf8')).toBe('original');
    const apply = strata(['run', '--rm', '-q', '-v', `${work}:/work:overlay`, '--apply', image, 'fsbox', 'write', '/work/b.txt', 'new']);
    expect(apply.status).toBe(0);
    expect(readFileSync(join(work, 'b.txt'), 'utf8')).toBe('new');
  });

  it('keeps the sandbox without --rm: ps, diff, cp in and out, rm', () => {
    expect(strata(['run', '-q', '--name', 'kept1', image, 'fsbox', 'write', '/made', 'inside']).status).toBe(0);
    expect(strata(['ps']).stdout).toMatch(/kept1 .*hello-image.*exited 0/);
    expect(strata(['diff', 'kept1']).stdout).toContain('A /made');
    const host = tempDir('strata-cli-cp-');
    expect(strata(['cp', 'kept1:/made', join(host, 'made')]).status).toBe(0);
    expect(readFileSync(join(host, 'made'), 'utf8')).toBe('inside');
    writeFileSync(join(host, 'in.txt'), 'copied in');
    expect(strata(['cp', join(host, 'in.txt'), 'kept1:/in.txt']).status).toBe(0);
    expect(strata(['diff', 'kept1']).stdout).toContain('A /in.txt');
    expect(strata(['rm', 'kept1']).stdout).toContain('removed');
    expect(strata(['diff', 'kept1'])).toMatchObject({ status: 1, stderr: expect.stringContaining('ERR_SANDBOX_NOT_FOUND') });
    expect(existsSync(join(home, 'sandboxes'))).toBe(true);
  });

  it('refuses bad flags with exit 2 and a message', () => {
    for (const args of [
      ['-v', 'nocolon', image],
      ['-v', '/a:relative', image],
      ['--mount', 'type=nfs,dst=/x', image],
      ['--tmpfs', '/x:bogus=1', image],
      ['--apply', image],
      ['--root', 'weird', image],
    ]) {
      const r = strata(['run', '--rm', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^strata: /);
    }
  });

  it('a missing image is a clear error, exit 1', () => {
    const r = strata(['run', '--rm', '-q', 'oci:/nonexistent/layout']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^strata: ERR_/);
  });

  it('documents the image flags in --help', () => {
    const help = strata(['run', '--help']).stdout;
    for (const flag of ['--read-only', '--tmpfs', '--volume', '--mount', '--rm', '--name', '--diff', '--apply', '--no-dev', 'IMAGE']) expect(help).toContain(flag);
    for (const command of ['ps', 'diff', 'cp', 'rm']) expect(strata(['help', command]).stdout).toContain(`strata ${command}`);
  });
});
