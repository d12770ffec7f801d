/**
 * `strata run` picks preview1 or preview2 from the binary: the same command
 * line runs a module or a component, with the same arguments, stdin, exit
 * status, timeout (124) and workdir. Runs bin/strata.js (from dist/).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';
import { componentPath } from './support.js';

const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const home = tempDir('strata-component-cli-');

function strata(args: string[], input = '') {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, STRATA_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('strata run with a component', () => {
  it('runs a component file as it runs the module it was adapted from', () => {
    expect(strata(['run', componentPath('hello'), '--', 'cli'])).toMatchObject({ status: 0, stdout: 'hello, cli\n' });
    expect(strata(['run', guestPath('hello'), '--', 'cli'])).toMatchObject({ status: 0, stdout: 'hello, cli\n' });
    expect(strata(['run', componentPath('cat')], 'stdin text')).toMatchObject({ status: 0, stdout: 'stdin text' });
  });

  it('passes the exit status (0 or 1 through the preview1 adapter), a timeout is 124, a trap 134', () => {
    expect(strata(['run', componentPath('exit-code'), '--', '1']).status).toBe(1);
    expect(strata(['run', '--timeout', '200', componentPath('spin')]).status).toBe(124);
    expect(strata(['run', componentPath('trap')]).status).toBe(134);
  });

  it('-w DIR makes a relative path work for a component written for preview2 (initial-cwd)', () => {
    const dir = tempDir('strata-component-cli-bind-');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'note.txt'), 'from the bind\n');
    expect(strata(['run', '-v', `${dir}:/data`, '-w', '/data/sub', componentPath('cwd-probe')])).toMatchObject({ status: 0, stdout: 'cwd=/data/sub\nfrom the bind\n' });
  });

  it('-w must name a directory of the sandbox, and becomes PWD', () => {
    const r = strata(['run', '-w', '/missing', componentPath('hello')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/missing');
    expect(strata(['run', '-w', '/', componentPath('args-env')]).stdout).toContain('PWD=/');
  });
});
