/**
 * stdio of pooled processes: output flow-controlled against a slow
 * consumer, stdin piped in, and run/exec results equal to the in-thread
 * Sandbox's for the same guests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import type { RunOptions } from '../../src/index.js';
import { builtStrata, sleep } from './pool-support.js';

const strata = await builtStrata();
const { SandboxPool, Sandbox } = strata;
type Pool = InstanceType<typeof SandboxPool>;

const windowBytes = 1 << 20;

/** What a run ended with, comparable across hosts: the result, or the error's code, message and output. */
async function outcome(run: Promise<{ exitCode: number; stdout: Uint8Array; stderr: Uint8Array }>): Promise<unknown> {
  try {
    const r = await run;
    return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString() };
  } catch (error) {
    const e = error as { code: string; message: string; name: string; stdout?: Uint8Array; stderr?: Uint8Array };
    return { name: e.name, code: e.code, message: e.message, stdout: e.stdout?.length, stderr: e.stderr?.length };
  }
}

describe('pooled stdio', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new SandboxPool({ size: 2 });
  });
  afterAll(() => pool.close());

  it('a slow consumer holds the guest back: at most about 1 MiB waits unread, and every byte arrives', async () => {
    const sandbox = await pool.create();
    const child = sandbox.spawn(['flood', '16'], { module: guestPath('flood'), stdin: '' });
    await sleep(300); // nobody reads
    const buffered = child.stdout.readableLength;
    console.log(`unread stdout after 300 ms without a reader: ${buffered} bytes (16 MiB written by the guest in all)`);
    expect(buffered).toBeLessThanOrEqual(windowBytes + (256 << 10));
    let total = 0;
    let reads = 0;
    for await (const chunk of child.stdout) {
      total += (chunk as Buffer).length;
      if (++reads % 64 === 0) await sleep(1); // slow
    }
    expect(total).toBe(16 << 20);
    expect(await child.exited).toMatchObject({ code: 0, reason: 'exit', signal: null });
  });

  it('stdin piped in, larger than the ring, comes out of cat unchanged; web streams work too', async () => {
    const sandbox = await pool.create();
    const input = Buffer.alloc(1 << 20);
    for (let i = 0; i < input.length; i++) input[i] = (i * 31 + 7) & 0xff;
    const child = sandbox.spawn([], { module: guestPath('cat') });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    for (let at = 0; at < input.length; at += 100_000) child.stdin.write(input.subarray(at, at + 100_000));
    child.stdin.end();
    expect(await child.exited).toMatchObject({ code: 0, reason: 'exit' });
    expect(Buffer.concat(chunks).equals(input)).toBe(true);

    const webChild = sandbox.spawn([], { module: guestPath('cat') });
    const { stdin, stdout } = webChild.web();
    const writer = stdin.getWriter();
    await writer.write(new TextEncoder().encode('through web streams'));
    await writer.close();
    const text = await new Response(stdout).text();
    expect(text).toBe('through web streams');
  });

  it('run and exec give what the in-thread Sandbox gives, results and errors alike', async () => {
    const pooled = await pool.create();
    const inThread = await Sandbox.create();
    const cases: [string, RunOptions][] = [
      ['hello', { args: ['pool'] }],
      ['cat', { stdin: 'from stdin\n' }],
      ['args-env', { args: ['a b', '', 'c'], env: { HOME: '/home/x', EMPTY: '' }, argv0: 'prog' }],
      ['exit-code', { args: ['42'] }],
      ['isatty', { tty: { stdout: true } }],
      ['trap', {}],
      ['flood', { args: ['4'], maxOutputBytes: 1 << 20 }],
      ['spin', { timeoutMs: 50 }],
    ];
    for (const [name, options] of cases) {
      const expected = await outcome(inThread.run(guestPath(name), options));
      const got = await outcome(pooled.run(guestPath(name), options as never));
      expect(got, name).toEqual(expected);
    }
    const traces: string[][] = [[], []];
    await inThread.run(guestPath('hello'), { trace: (line) => traces[0]!.push(line) });
    await pooled.run(guestPath('hello'), { trace: (line) => traces[1]!.push(line) });
    expect(traces[1]).toEqual(traces[0]);
    expect(traces[0]!.length).toBeGreaterThan(2);
    await inThread.fs.mkdir('/bin');
    await pooled.fs.mkdir('/bin');
    for (const s of [inThread.fs, pooled.fs]) await s.copyIn(guestPath('hello'), '/bin/hello');
    const execExpected = await outcome(inThread.exec(['/bin/hello', 'exec'], { env: { PATH: '/bin' } }));
    expect(await outcome(pooled.exec(['hello', 'exec'], { env: { PATH: '/bin' } }))).toEqual(execExpected);
    expect(await outcome(pooled.exec(['missing'], { env: { PATH: '/bin' } }))).toEqual(await outcome(inThread.exec(['missing'], { env: { PATH: '/bin' } })));
  });

  it('stdout and stderr to callbacks, and a cap on streamed output (reason output-limit)', async () => {
    const sandbox = await pool.create();
    const seen: string[] = [];
    const child = sandbox.spawn(['trap'], { module: guestPath('trap'), stdout: (c) => seen.push(Buffer.from(c).toString()), stdin: '' });
    const exit = await child.exited;
    expect(exit.reason).toBe('trap');
    expect(exit.message).toMatch(/^'trap.wasm' trapped: /);
    expect(seen.join('')).toBe('about to trap\n');
    let total = 0;
    const capped = sandbox.spawn(['flood', '8'], { module: guestPath('flood'), maxOutputBytes: 100_000, stdin: '' });
    capped.stdout.on('data', (c: Buffer) => (total += c.length));
    const ended = new Promise((resolve) => capped.stdout.once('end', resolve));
    expect(await capped.exited).toMatchObject({ reason: 'output-limit', code: null, signal: null });
    await ended;
    expect(total).toBe(100_000);
  });
});
