import { describe, expect, it } from 'vitest';
import { ErrorCode, GuestError, Sandbox, compileGuest, defaultMaxFds } from '../../src/index.js';
import { guestBytes, text } from '../support/guests.js';

// Guests that try to hurt the host. Each must end with a clear result or a
// typed error, the host must keep running, and the sandbox must stay usable.

async function runGuest(name: string, options: Parameters<Sandbox['run']>[1] = {}, sandbox?: Sandbox) {
  const sb = sandbox ?? (await Sandbox.create());
  return sb.run(guestBytes(name), { argv0: name, timeoutMs: 20_000, ...options });
}

async function guestError(promise: Promise<unknown>): Promise<GuestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GuestError);
  return error as GuestError;
}

describe('hostile guests', () => {
  it('out-of-bounds pointers get EFAULT from every call, and nothing partial is written', async () => {
    const { exitCode, stdout } = await runGuest('oob-pointers');
    const lines = text(stdout).trim().split('\n');
    expect(exitCode).toBe(0);
    expect(lines.at(-1)).toBe('survived');
    const results = lines.filter((l) => /-(oob|overflow|huge|straddles-end)$/.test(l.split(':')[0]!));
    expect(results.length).toBeGreaterThan(40);
    for (const line of results) expect(line).toMatch(/: 21$/); // EFAULT
    expect(lines).toContain('random_get-zero-len-at-end: 0');
    expect(lines).toContain('file-after: 0 10 0123456789');
  });

  it(`opening fds until failure gives EMFILE at the documented limit (${defaultMaxFds})`, async () => {
    // fds 0-2 are stdio and 3 is the root, so the guest gets limit - 4 more.
    expect(text((await runGuest('fd-exhaust')).stdout)).toBe(`opened ${defaultMaxFds - 4} then EMFILE\n`);
    expect(text((await runGuest('fd-exhaust', { maxFds: 16 })).stdout)).toBe('opened 12 then EMFILE\n');
  });

  it('a memory bomb is capped by the memory limit: malloc fails inside the guest', async () => {
    const guest = await compileGuest(guestBytes('mem-bomb'), { memoryLimitBytes: 64 << 20 });
    const sandbox = await Sandbox.create();
    const { exitCode, stdout } = await sandbox.run(guest);
    expect(exitCode).toBe(0);
    const mib = Number(/allocated (\d+) MiB/.exec(text(stdout))?.[1]);
    expect(mib).toBeGreaterThan(32);
    expect(mib).toBeLessThan(64);
  });

  it('an infinite loop is stopped by the timeout, and the sandbox stays usable', async () => {
    const sandbox = await Sandbox.create();
    sandbox.writeFile('/kept', 'still here');
    const started = performance.now();
    const error = await guestError(runGuest('spin', { timeoutMs: 200 }, sandbox));
    expect(error.code).toBe(ErrorCode.timeout);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(text(sandbox.readFile('/kept'))).toBe('still here');
    expect((await runGuest('hello', {}, sandbox)).exitCode).toBe(0);
  });

  it('a sleep past the deadline ends at the deadline with ERR_TIMEOUT', async () => {
    const started = performance.now();
    // poll-sleep sleeps 20 ms several times; sleep-abs waits on absolute deadlines.
    const error = await guestError(runGuest('sleep-abs', { timeoutMs: 5 }));
    expect(error.code).toBe(ErrorCode.timeout);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('an output flood is cut at maxOutputBytes, keeping the first bytes', async () => {
    const error = await guestError(runGuest('flood', { args: ['8'], maxOutputBytes: 1 << 20 }));
    expect(error.code).toBe(ErrorCode.outputLimit);
    expect(error.stdout.length).toBe(1 << 20);
    expect(error.stdout.every((b) => b === 0x78)).toBe(true);
  });

  it('an output flood to a sink is streamed, not held', async () => {
    let bytes = 0;
    const { exitCode } = await runGuest('flood', { args: ['16'], stdout: (c) => (bytes += c.length) });
    expect(exitCode).toBe(0);
    expect(bytes).toBe(16 << 20);
  });

  it('a trap is a typed error with the output so far', async () => {
    const error = await guestError(runGuest('trap'));
    expect(error.code).toBe(ErrorCode.guestTrap);
    expect(error.message).toMatch(/unreachable/);
  });

  it('huge argv and environ arrive whole', async () => {
    const args = Array.from({ length: 10_000 }, (_, i) => `arg-${i}-${'x'.repeat(90)}`);
    const env = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`K${i}`, 'v'.repeat(500)]));
    const bytes = [`args-huge`, ...args].reduce((n, a) => n + a.length + 1, 0) + Object.entries(env).reduce((n, [k, v]) => n + k.length + v.length + 2, 0);
    const { stdout } = await runGuest('args-huge', { args, env });
    expect(text(stdout)).toBe(`argc ${args.length + 1} envc 2000 bytes ${bytes}\n`);
  });

  it('exit codes pass through, including ones over 255', async () => {
    for (const code of [0, 1, 42, 255, 256, 1000]) {
      expect((await runGuest('exit-code', { args: [String(code)] })).exitCode).toBe(code);
    }
  });

  it('tmpfs fill-up gives ENOSPC inside the guest, and the sandbox recovers', async () => {
    const sandbox = await Sandbox.create({ tmpfs: { maxBytes: 1 << 20 } });
    const { exitCode, stdout } = await runGuest('fill', { args: ['/fill'] }, sandbox);
    expect(exitCode).toBe(0);
    expect(text(stdout)).toBe(`wrote ${1 << 20} bytes then ENOSPC\n`);
    expect(sandbox.usage.bytes).toBe(1 << 20);
    expect(() => sandbox.writeFile('/more', 'x')).toThrow(/ENOSPC/);
    sandbox.writeFile('/fill', '');
    expect(sandbox.usage.bytes).toBe(0);
    expect((await runGuest('hello', {}, sandbox)).exitCode).toBe(0);
  });

  it('inode exhaustion gives ENOSPC to the guest', async () => {
    const sandbox = await Sandbox.create({ tmpfs: { maxInodes: 3 } });
    sandbox.writeFile('/a', '');
    sandbox.writeFile('/b', '');
    expect(text((await runGuest('fill', { args: ['/c'] }, sandbox)).stdout)).toBe('open: ENOSPC\n');
  });
});
