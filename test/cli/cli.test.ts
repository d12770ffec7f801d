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
    ['a missing module', ['run'], /missing MODULE/],
    ['a bad --env', ['run', '--env', 'NOVALUE', 'x.wasm'], /expected KEY=VALUE/],
    ['a bad --timeout', ['run', '--timeout', 'soon', 'x.wasm'], /expected a positive integer/],
    ['a bad --memory-limit', ['run', '--memory-limit', 'lots', 'x.wasm'], /expected a size/],
    ['an unavailable --root', ['run', '--root', 'overlay', 'x.wasm'], /only 'tmpfs'/],
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
