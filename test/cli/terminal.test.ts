/**
 * isTerminal (src/cli/terminal.ts) answers as tty.isatty for each kind of
 * fd the CLI's stdio can be, and loads node:tty only for a character device
 * other than the null device.
 */
import { spawnSync, type StdioOptions } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireTool } from '../support/host-tool.js';

const terminal = pathToFileURL(fileURLToPath(new URL('../../dist/cli/terminal.js', import.meta.url))).href;

/** A script that writes to `out` isTerminal(0..2), whether that loaded node:tty, and tty.isatty(0..2). */
function probe(out: string): string {
  return `
    const { isTerminal } = await import(${JSON.stringify(terminal)});
    const answers = [0, 1, 2].map(isTerminal);
    const loadedTty = process.moduleLoadList.includes('NativeModule tty');
    const { isatty } = await import('node:tty');
    (await import('node:fs')).writeFileSync(${JSON.stringify(out)}, JSON.stringify({ answers, loadedTty, isatty: [0, 1, 2].map(isatty) }));
  `;
}

interface Probe {
  answers: boolean[];
  loadedTty: boolean;
  isatty: boolean[];
}

function runProbe(stdio: StdioOptions): Probe {
  const out = join(mkdtempSync(join(tmpdir(), 'strata-tty-')), 'out.json');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe(out)], { stdio, timeout: 30_000 });
  expect(r.status).toBe(0);
  return JSON.parse(readFileSync(out, 'utf8')) as Probe;
}

describe('isTerminal', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'strata-tty-')), 'file');
  const cases: { name: string; stdio: () => StdioOptions }[] = [
    { name: 'pipes', stdio: () => 'pipe' },
    { name: 'the null device', stdio: () => 'ignore' },
    { name: 'a regular file', stdio: () => Array(3).fill(openSync(file, 'w+')) as StdioOptions },
    { name: 'a pipe, the null device and a file', stdio: () => ['pipe', 'ignore', openSync(file, 'w+')] },
  ];
  for (const { name, stdio } of cases) {
    it(`${name}: no terminal, as isatty says, without loading node:tty`, () => {
      const fds = stdio();
      const r = runProbe(fds);
      if (Array.isArray(fds)) for (const fd of new Set(fds.filter((f) => typeof f === 'number'))) closeSync(fd);
      expect(r.answers).toEqual([false, false, false]);
      expect(r.answers).toEqual(r.isatty);
      expect(r.loadedTty).toBe(process.platform === 'win32');
    });
  }

  describe.skipIf(process.platform !== 'linux' || !requireTool('script'))('under a pseudo-terminal (util-linux script)', () => {
    it('all three are terminals, as isatty says', () => {
      const out = join(mkdtempSync(join(tmpdir(), 'strata-tty-')), 'out.json');
      const command = [process.execPath, '--input-type=module', '-e', probe(out)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { input: '', encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(0);
      const p = JSON.parse(readFileSync(out, 'utf8')) as Probe;
      expect(p.answers).toEqual([true, true, true]);
      expect(p.answers).toEqual(p.isatty);
    });
  });
});
