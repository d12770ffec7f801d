/**
 * Issue 8, end to end through the CLI as users run it (the built bin):
 * guest input never makes strata print a stack trace, and a guest cannot
 * outlive its own exit.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/layer-trees.js';
import { i32, i64, op, sleb, wasiCommand } from './wasm-module.js';

const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));

function strata(bytes: Uint8Array, args: string[] = []) {
  const file = join(tempDir('strata-cli-guest-'), 'guest.wasm');
  writeFileSync(file, bytes);
  const r = spawnSync(process.execPath, [bin, 'run', ...args, file], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const pathOpen = { name: 'path_open', params: [i32, i32, i32, i32, i32, i64, i64, i32, i32] };
const procExit = { name: 'proc_exit', params: [i32], noResult: true };

describe('guest input at the CLI', () => {
  it('a 2^29-byte path is ENAMETOOLONG inside the guest, with no stack trace', () => {
    const bytes = wasiCommand({
      imports: [pathOpen, procExit],
      pages: 2 ** 29 / 65536 + 1,
      body: [
        op.i32Const, 3, op.i32Const, 0, op.i32Const, ...sleb(65536), op.i32Const, ...sleb(2 ** 29),
        op.i32Const, 0, op.i64Const, ...sleb(0x7ffffff), op.i64Const, 0, op.i32Const, 0, op.i32Const, 0,
        op.call, 0, op.call, 1,
      ],
    });
    const r = strata(bytes);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(37); // ENAMETOOLONG, passed to proc_exit
  });

  it('a guest that catches its own proc_exit and spins exits with its code at once', () => {
    const bytes = wasiCommand({
      imports: [procExit],
      body: [op.try, op.void, op.i32Const, ...sleb(7), op.call, 0, op.catchAll, op.end, op.loop, op.void, op.br, 0, op.end],
    });
    const started = Date.now();
    const r = strata(bytes, ['--timeout', '10000']);
    expect(r.status).toBe(7);
    expect(r.stderr).toBe('');
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
