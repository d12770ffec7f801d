import { randomFillSync } from 'node:crypto';
import { ProcExit } from '../wasi/context.js';
import type { ComponentContext, Result } from './context.js';
import { Descriptor, DirectoryEntryStream, filesystemErrorCode, type Datetime } from './filesystem.js';
import { HostResource } from './resource.js';
import { InputStream, IoError, OutputStream, poll, Pollable } from './streams.js';

/** `wasi:cli/terminal-input.terminal-input`. */
export class TerminalInput extends HostResource {}
/** `wasi:cli/terminal-output.terminal-output`. */
export class TerminalOutput extends HostResource {}

/** Most bytes one `get-random-bytes` call returns; past it the process ends (the guest asked the host to allocate without bound). */
export const maxRandomBytes = 64 << 20;

/** The import object a transpiled component takes: one entry per interface, unversioned, as jco looks them up. */
export type ComponentImports = Record<string, Record<string, unknown>>;

/**
 * Every interface strata serves (wasi:cli, wasi:io, wasi:clocks,
 * wasi:random, wasi:filesystem 0.2.x), bound to one process's context.
 * Nothing here reaches the host: files come from the namespace, stdio from
 * the context's streams. Sockets and HTTP are not offered, so a component
 * importing them fails to link (ERR_UNKNOWN_IMPORT).
 */
export function componentImports(ctx: ComponentContext): ComponentImports {
  const o = ctx.options;
  const wall = (): Datetime => {
    const ms = Date.now();
    return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 };
  };
  const monotonicNs = () => BigInt(Math.round((performance.now() - ctx.startMs) * 1e6));
  const random = (len: bigint): Uint8Array =>
    ctx.call(() => {
      if (len > BigInt(maxRandomBytes)) throw new RangeError(`get-random-bytes: ${len} bytes, at most ${maxRandomBytes}`);
      return randomFillSync(new Uint8Array(Number(len)));
    });
  const u64 = () => ctx.call(() => randomFillSync(new BigUint64Array(1))[0]!);
  const exit = (code: number): never => {
    throw ctx.end.end(new ProcExit(code));
  };
  const tty = o.tty ?? {};
  return {
    'wasi:cli/environment': {
      getEnvironment: () => ctx.call(() => o.env.map(([k, v]) => [k, v])),
      getArguments: () => ctx.call(() => [...o.args]),
      initialCwd: () => ctx.call(() => o.cwd),
    },
    'wasi:cli/exit': {
      exit: (status: Result<undefined, undefined>) => ctx.call(() => exit(status.tag === 'ok' ? 0 : 1)),
      exitWithCode: (code: number) => ctx.call(() => exit(code & 0xff)),
    },
    'wasi:cli/stdin': { getStdin: () => ctx.call(() => new InputStream(ctx, { kind: 'source', source: o.stdin })) },
    'wasi:cli/stdout': { getStdout: () => ctx.call(() => new OutputStream(ctx, { kind: 'sink', sink: o.stdout })) },
    'wasi:cli/stderr': { getStderr: () => ctx.call(() => new OutputStream(ctx, { kind: 'sink', sink: o.stderr })) },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => ctx.call(() => (tty.stdin === true ? new TerminalInput(ctx) : undefined)) },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => ctx.call(() => (tty.stdout === true ? new TerminalOutput(ctx) : undefined)) },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => ctx.call(() => (tty.stderr === true ? new TerminalOutput(ctx) : undefined)) },
    'wasi:clocks/wall-clock': {
      now: () => ctx.call(wall),
      resolution: () => ctx.call(() => ({ seconds: 0n, nanoseconds: 1_000_000 })),
    },
    'wasi:clocks/monotonic-clock': {
      now: () => ctx.call(monotonicNs),
      resolution: () => ctx.call(() => 1000n),
      subscribeInstant: (when: bigint) => ctx.call(() => new Pollable(ctx, ctx.startMs + Number(when) / 1e6)),
      subscribeDuration: (d: bigint) => ctx.call(() => new Pollable(ctx, performance.now() + Number(d) / 1e6)),
    },
    'wasi:random/random': { getRandomBytes: random, getRandomU64: u64 },
    'wasi:random/insecure': { getInsecureRandomBytes: random, getInsecureRandomU64: u64 },
    'wasi:random/insecure-seed': { insecureSeed: () => ctx.call(() => [u64(), u64()]) },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll: (list: Pollable[]) => poll(ctx, list) },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: (e: IoError) => filesystemErrorCode(ctx, e),
    },
    'wasi:filesystem/preopens': {
      getDirectories: () =>
        ctx.call(() => o.preopens.map((p) => [new Descriptor(ctx, { kind: 'directory', node: p.dir }, { read: true, mutateDirectory: true }), p.path])),
    },
  };
}
