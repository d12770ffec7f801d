/**
 * Limits, enforced in a pool worker: linear memory (a module with no
 * declared maximum too), tables, wall-clock timeout, fds, the tmpfs
 * root's and the overlay upper's quotas, and output caps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { op, sleb, wasiCommand } from '../security/wasm-module.js';
import { builtStrata } from './pool-support.js';

const { SandboxPool, ImageStore, GuestError } = await builtStrata();
type Pool = InstanceType<typeof SandboxPool>;

const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
const procExit = { name: 'proc_exit', params: [0x7f], noResult: true } as const;

/** A command that exits with 1 + the result of growing memory by `pages` (so 0 when the grow fails). */
function memoryGrow(pages: number): Uint8Array {
  return wasiCommand({ imports: [procExit], body: [op.i32Const, ...sleb(pages), 0x40, 0x00, op.i32Const, 1, op.i32Add, op.call, 0] });
}

/** A command that exits with 1 + the result of growing its table by `n` (0 when the grow fails). */
function tableGrow(n: number): Uint8Array {
  return wasiCommand({
    imports: [procExit],
    tables: [[0, undefined]],
    body: [op.refNull, op.funcref, op.i32Const, ...sleb(n), ...op.tableGrow, 0, op.i32Const, 1, op.i32Add, op.call, 0],
  });
}

describe('limits in a pool worker', () => {
  let pool: Pool;
  let home: string;
  beforeAll(() => {
    pool = new SandboxPool({ size: 2 });
    home = mkdtempSync(join(tmpdir(), 'strata-pool-limits-'));
  });
  afterAll(async () => {
    await pool.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('linear memory: malloc fails at the cap; a module with no declared maximum is still capped', async () => {
    const sandbox = await pool.create();
    const bomb = await sandbox.run(guestPath('mem-bomb'), { memoryLimitBytes: 16 << 20 });
    const mib = Number(/allocated (\d+) MiB/.exec(Buffer.from(bomb.stdout).toString())?.[1]);
    expect(mib).toBeGreaterThan(0);
    expect(mib).toBeLessThan(16);
    expect((await sandbox.run(memoryGrow(1000), { memoryLimitBytes: 16 << 20 })).exitCode).toBe(0); // 64 MiB more: refused
    expect((await sandbox.run(memoryGrow(100), { memoryLimitBytes: 16 << 20 })).exitCode).toBe(2); // from 1 page
    expect((await sandbox.run(memoryGrow(20_000))).exitCode).toBe(0); // 1.25 GiB: past the 1 GiB default
  });

  it('tables: table.grow past the cap fails inside the guest', async () => {
    const sandbox = await pool.create();
    expect((await sandbox.run(tableGrow((1 << 20) + 1))).exitCode).toBe(0);
    expect((await sandbox.run(tableGrow(1000))).exitCode).toBe(1);
    expect((await sandbox.run(tableGrow(100), { tableLimitElements: 50 })).exitCode).toBe(0);
    expect((await sandbox.run(tableGrow(50), { tableLimitElements: 50 })).exitCode).toBe(1);
  });

  it('wall-clock timeout, max fds, output cap', async () => {
    const sandbox = await pool.create();
    await expect(sandbox.run(guestPath('spin'), { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    const fds = await sandbox.run(guestPath('fd-exhaust'), { maxFds: 32 });
    const [, opened, errno] = /opened (\d+) then (\w+)/.exec(Buffer.from(fds.stdout).toString()) ?? [];
    expect(errno).toBe('EMFILE');
    expect(Number(opened)).toBeLessThan(32);
    const flood = await sandbox.run(guestPath('flood'), { args: ['4'], maxOutputBytes: 300_000 }).catch((e: unknown) => e);
    expect(flood).toBeInstanceOf(GuestError);
    expect(flood).toMatchObject({ code: 'ERR_OUTPUT_LIMIT', message: "'flood.wasm' wrote more than 300000 bytes to stdout and was stopped" });
    expect((flood as InstanceType<typeof GuestError>).stdout.length).toBe(300_000);
  });

  it("the tmpfs root's quota and the overlay upper's quota give ENOSPC inside the guest", async () => {
    const tmpfs = await pool.create({ tmpfs: { maxBytes: 1 << 20 } });
    const filled = Buffer.from((await tmpfs.run(guestPath('fill'))).stdout).toString();
    expect(filled).toMatch(/^wrote \d+ bytes then ENOSPC\n$/);
    expect(Number(/wrote (\d+)/.exec(filled)![1])).toBeLessThanOrEqual(1 << 20);
    expect((await tmpfs.usage()).bytes).toBeLessThanOrEqual(1 << 20);

    const store = await ImageStore.open(home);
    const overlay = await pool.create({ image: `oci:${example}`, store, tmpfs: { maxBytes: 1 << 20 } });
    const upper = Buffer.from((await overlay.run(guestPath('fill'), { args: ['/tmp-fill'] })).stdout).toString();
    expect(upper).toMatch(/^wrote \d+ bytes then ENOSPC\n$/);
    expect((await overlay.usage()).bytes).toBeLessThanOrEqual(1 << 20);
    // The image is opened by the worker itself; its programs run with exec.
    const hello = await overlay.exec(['hello', 'image']);
    expect(Buffer.from(hello.stdout).toString()).toBe('hello, image\n');
    expect((await overlay.diff()).map((c) => `${c.kind} ${c.path}`)).toContain('added /tmp-fill');
  });
});
