import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';

// The CLI is tested as users run it: the built bin (npm test builds dist first).
const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));

function strata(args: string[], input = '') {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('strata run', () => {
  it('runs hello and exits with its code', () => {
    expect(strata(['run', guestPath('hello'), '--', 'cli'])).toMatchObject({ status: 0, stdout: 'hello, cli\n' });
  });

  it('passes arguments after the module without --', () => {
    expect(strata(['run', guestPath('hello'), 'bare']).stdout).toBe('hello, bare\n');
  });

  it('prints help with every option', () => {
    const r = strata(['run', '--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--root', '--env', '--workdir', '--timeout', '--memory-limit', '--tmpfs-size', '--max-fds', '--trace']) {
      expect(r.stdout).toContain(flag);
    }
    expect(strata(['--help']).stdout).toContain('strata run');
  });

  it('prints the version', () => {
    expect(strata(['--version']).stdout).toMatch(/^strata \d+\.\d+\.\d+\n$/);
  });

  it('traces calls to stderr with --trace', () => {
    const r = strata(['run', '--trace', guestPath('hello')]);
    expect(r.stderr).toMatch(/\[trace\] fd_write\(fd=1, iovs=\d+, iovsLen=\d+, nwritten=\d+\) = 0/);
    expect(r.stdout).toBe('hello, world\n');
  });

  const usageErrors: [string, string[], RegExp][] = [
    ['an unknown command', ['frob'], /unknown command 'frob'/],
    ['an unknown option', ['run', '--frob', 'x.wasm'], /unknown option '--frob'/],
    ['a missing module', ['run'], /missing IMAGE or MODULE\.wasm/],
    ['a bad --env', ['run', '--env', 'NOVALUE', 'x.wasm'], /expected KEY=VALUE/],
    ['a bad --timeout', ['run', '--timeout', 'soon', 'x.wasm'], /expected a positive integer/],
    ['a bad --memory-limit', ['run', '--memory-limit', 'lots', 'x.wasm'], /expected a size/],
    ['an image root mode for a module file', ['run', '--root', 'overlay', 'x.wasm'], /--root overlay needs an image/],
    ['an unknown --root', ['run', '--root', 'zfs', 'x.wasm'], /expected readonly, overlay or tmpfs/],
    ['a missing option value', ['run', '--timeout'], /needs a value/],
  ];
  it.each(usageErrors)('exits 2 on %s', (_name, args, message) => {
    const r = strata(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('exits 1 with a typed error for a file that is not wasm', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
    const file = join(dir, 'script.wasm');
    writeFileSync(file, '#!/bin/sh\n');
    const r = strata(['run', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_NOT_WASM: 'script.wasm' is not a WebAssembly module/);
  });

  it('exits 1 naming a module that does not exist', () => {
    const r = strata(['run', '/no/such.wasm']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_HOST_FILE: cannot read module '\/no\/such.wasm'/);
  });

  it('exits 1 for a workdir that is not in the sandbox', () => {
    const r = strata(['run', '--workdir', '/nowhere', guestPath('hello')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_BAD_PATH: workdir '\/nowhere': ENOENT/);
  });
});

describe('strata run: stdio, exit codes and limits', () => {
  it('streams stdin to the guest and its stdout back', () => {
    const input = 'line one\nline two\n'.repeat(1000);
    const r = strata(['run', guestPath('cat')], input);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(input);
  });

  it.each([0, 3, 42, 255])('exits with the guest code %i', (code) => {
    expect(strata(['run', guestPath('exit-code'), String(code)]).status).toBe(code);
  });

  it('exits 124 when --timeout stops the guest', () => {
    const r = strata(['run', '--timeout', '200', guestPath('spin')]);
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/ERR_TIMEOUT: 'spin.wasm' ran longer than 200 ms/);
  });

  it('exits 134 when the guest traps', () => {
    const r = strata(['run', guestPath('trap')]);
    expect(r.status).toBe(134);
    expect(r.stderr).toMatch(/ERR_GUEST_TRAP/);
  });

  it('passes --env and the workdir as PWD, and nothing of the host environment', () => {
    const r = strata(['run', '-e', 'GREETING=hi', '--workdir', '/', guestPath('args-env'), 'x']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('GREETING=hi');
    expect(r.stdout).toContain('PWD=/');
    expect(r.stdout).not.toContain('PATH=');
  });

  it('applies --tmpfs-size: the guest sees ENOSPC', () => {
    expect(strata(['run', '--tmpfs-size', '256K', guestPath('fill')]).stdout).toBe(`wrote ${256 * 1024} bytes then ENOSPC\n`);
  });

  it('applies --max-fds: the guest sees EMFILE', () => {
    expect(strata(['run', '--max-fds', '10', guestPath('fd-exhaust')]).stdout).toBe('opened 6 then EMFILE\n');
  });

  it('applies --memory-limit: malloc fails inside the guest', () => {
    const r = strata(['run', '--memory-limit', '16M', guestPath('mem-bomb')]);
    expect(r.status).toBe(0);
    expect(Number(/allocated (\d+) MiB/.exec(r.stdout)?.[1])).toBeLessThan(16);
  });
});
