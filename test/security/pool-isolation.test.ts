/**
 * Sandboxes sharing a pool worker stay apart: one sees nothing of
 * another's files, and a process that traps, floods its output, runs out
 * of memory, spins or is killed disturbs no other process or sandbox of
 * that worker. A stale kill never reaches a later process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { builtStrata, sleep } from '../sandbox/pool-support.js';

const { SandboxPool } = await builtStrata();
type Pool = InstanceType<typeof SandboxPool>;

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('sandboxes sharing one pool worker', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new SandboxPool({ size: 1 });
  });
  afterAll(() => pool.close());

  it("one never sees another's files", async () => {
    const a = await pool.create();
    const b = await pool.create();
    expect((await a.run(guestPath('fsbox'), { args: ['write', '/secret', 'mine'] })).exitCode).toBe(0);
    const peek = await b.run(guestPath('fsbox'), { args: ['cat', '/secret'] });
    expect(peek.exitCode).toBe(1);
    expect(text(peek.stderr)).toContain('No such file or directory');
    expect(await b.fs.exists('/secret')).toBe(false);
    expect(await a.fs.readFile('/secret', 'utf8')).toBe('mine');
  });

  it('a trap, a flood, a memory bomb, a spin and a kill in one sandbox leave the others running and intact', async () => {
    const bad = await pool.create({ tmpfs: { maxBytes: 4 << 20 } });
    const good = await pool.create();
    await good.fs.writeFile('/state', 'intact');
    const outcomes = await Promise.all([
      bad.run(guestPath('trap')).catch((e: { code: string }) => e.code),
      good.run(guestPath('hello'), { args: ['one'] }).then((r) => text(r.stdout)),
      bad.run(guestPath('flood'), { args: ['8'], maxOutputBytes: 1 << 16 }).catch((e: { code: string }) => e.code),
      good.run(guestPath('hello'), { args: ['two'] }).then((r) => text(r.stdout)),
      bad.run(guestPath('mem-bomb'), { memoryLimitBytes: 64 << 20 }).then((r) => text(r.stdout).replace(/\d+/, 'N')),
      bad.run(guestPath('fill')).then((r) => text(r.stdout).replace(/\d+/, 'N')),
      bad.run(guestPath('spin'), { timeoutMs: 30 }).catch((e: { code: string }) => e.code),
      good.run(guestPath('hello'), { args: ['three'] }).then((r) => text(r.stdout)),
    ]);
    expect(outcomes).toEqual([
      'ERR_GUEST_TRAP',
      'hello, one\n',
      'ERR_OUTPUT_LIMIT',
      'hello, two\n',
      'allocated N MiB\n',
      'wrote N bytes then ENOSPC\n',
      'ERR_TIMEOUT',
      'hello, three\n',
    ]);
    const spinner = bad.spawn([], { module: guestPath('spin') });
    await sleep(30);
    spinner.kill();
    await spinner.exited;
    expect(await good.fs.readFile('/state', 'utf8')).toBe('intact');
    expect(text((await good.run(guestPath('hello'), { args: ['after'] })).stdout)).toBe('hello, after\n');
  });

  it('a kill of an ended process reaches no later process', async () => {
    const sandbox = await pool.create();
    const first = sandbox.spawn(['hello'], { module: guestPath('hello'), stdin: '' });
    await first.exited;
    const second = sandbox.spawn([], { module: guestPath('spin') });
    await sleep(30);
    first.kill();
    await sleep(100);
    let ended = false;
    void second.exited.then(() => (ended = true));
    await sleep(10);
    expect(ended).toBe(false);
    second.kill();
    expect((await second.exited).reason).toBe('killed');
  });

  it('closing a sandbox kills its processes and leaves the others', async () => {
    const doomed = await pool.create();
    const other = await pool.create();
    await other.fs.writeFile('/x', 'y');
    const running = doomed.spawn([], { module: guestPath('spin') });
    const queued = doomed.run(guestPath('hello')).catch((e: { code: string }) => e.code);
    await sleep(30);
    await doomed.close();
    expect(await running.exited).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(await queued).toBe('ERR_KILLED');
    expect(await other.fs.readFile('/x', 'utf8')).toBe('y');
  });
});
