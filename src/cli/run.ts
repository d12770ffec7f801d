import { readSync } from 'node:fs';
import { Sandbox, type RunOptions } from '../sandbox/index.js';
import type { StreamSource } from '../wasi/index.js';
import { bytes, out, positive, UsageError, writeAll } from './io.js';

/** The text of `strata run --help`. */
export const runHelp = `Usage: strata run [OPTIONS] MODULE.wasm [--] [ARGS...]

Runs a WASI preview1 command in a fresh sandbox. The guest's root is private:
it sees only its own filesystem, preopened as '/'. stdin, stdout and stderr are
streamed; strata exits with the guest's exit code.

Options:
  --root MODE          root filesystem: tmpfs (default; a private in-memory root)
  --env, -e K=V        set an environment variable (repeatable); the host's
                       environment is never passed through
  --workdir, -w DIR    working directory inside the sandbox (must exist; passed
                       to the guest as PWD)
  --timeout MS         stop the guest after MS milliseconds (exit 124)
  --memory-limit BYTES cap the guest's linear memory (default 1 GiB; K/M/G ok)
  --tmpfs-size BYTES   byte quota of the tmpfs root (default 1 GiB; K/M/G ok)
  --tmpfs-inodes N     inode quota of the tmpfs root (default 1048576)
  --max-fds N          most open fds in the guest; EMFILE past it (default 1024)
  --trace              print every WASI call and its result to stderr
  -h, --help           show this help

Options go before MODULE; everything after MODULE (or after --) is passed to
the guest as its arguments.

Exit status: the guest's code; 124 on timeout; 134 if the guest trapped;
1 if strata could not run it (not wasm, unknown import, missing file);
2 for a bad command line.

Example:
  strata run --env NAME=world guests/bin/hello.wasm -- strata
`;

interface RunArgs {
  module: string;
  guestArgs: string[];
  options: RunOptions;
  root: 'tmpfs';
  tmpfs: { maxBytes?: number; maxInodes?: number };
}

/** `strata run`: returns the guest's exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const parsed = parseRun(argv);
  if (parsed === 'help') {
    out(runHelp);
    return 0;
  }
  const sandbox = await Sandbox.create({ root: parsed.root, tmpfs: parsed.tmpfs });
  const result = await sandbox.run(parsed.module, {
    ...parsed.options,
    args: parsed.guestArgs,
    stdin: stdinSource(),
    stdout: (chunk) => writeAll(1, chunk),
    stderr: (chunk) => writeAll(2, chunk),
  });
  return result.exitCode;
}

function parseRun(argv: readonly string[]): RunArgs | 'help' {
  const env: Record<string, string> = {};
  const tmpfs: { maxBytes?: number; maxInodes?: number } = {};
  let options: RunOptions = {};
  let root: 'tmpfs' = 'tmpfs';
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const take = () => inline ?? value(flag);
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--root': {
        const mode = take();
        if (mode !== 'tmpfs') throw new UsageError(`--root ${mode}: only 'tmpfs' is available until images land (readonly and overlay need an image)`);
        root = mode;
        break;
      }
      case '-e':
      case '--env': {
        const kv = take();
        const at = kv.indexOf('=');
        if (at <= 0) throw new UsageError(`--env ${kv}: expected KEY=VALUE`);
        env[kv.slice(0, at)] = kv.slice(at + 1);
        break;
      }
      case '-w':
      case '--workdir':
        options = { ...options, workdir: take() };
        break;
      case '--timeout':
        options = { ...options, timeoutMs: positive(flag, take()) };
        break;
      case '--memory-limit':
        options = { ...options, memoryLimitBytes: bytes(flag, take()) };
        break;
      case '--tmpfs-size':
        tmpfs.maxBytes = bytes(flag, take());
        break;
      case '--tmpfs-inodes':
        tmpfs.maxInodes = positive(flag, take());
        break;
      case '--max-fds':
        options = { ...options, maxFds: positive(flag, take()) };
        break;
      case '--trace':
        options = { ...options, trace: (line) => writeAll(2, new TextEncoder().encode(`[trace] ${line}\n`)) };
        break;
      default:
        throw new UsageError(`unknown option '${arg}' (see 'strata run --help')`);
    }
  }
  const module = argv[i];
  if (module === undefined) throw new UsageError('missing MODULE.wasm (see \'strata run --help\')');
  let guestArgs = argv.slice(i + 1);
  if (guestArgs[0] === '--') guestArgs = guestArgs.slice(1);
  return { module, guestArgs, options: { ...options, env }, root, tmpfs };
}

/** Blocking reads of the host's stdin, as a terminal or pipe would give them. */
function stdinSource(): StreamSource {
  let ended = false;
  return {
    read(dst, offset, length) {
      if (ended || length === 0) return 0;
      for (;;) {
        try {
          const n = readSync(0, dst, offset, length, null);
          if (n === 0) ended = true;
          return n;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') {
            Atomics.wait(pause, 0, 0, 5);
            continue;
          }
          if (code === 'EOF' || code === 'EBADF' || code === 'ENXIO') {
            ended = true;
            return 0;
          }
          throw error;
        }
      }
    },
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));
