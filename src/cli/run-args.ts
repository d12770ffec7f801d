import type { MountSpec, RunOptions } from '../sandbox/index.js';
import { RootMode } from '../sandbox/root.js';
import { bytes, positive, UsageError, writeAll } from './io.js';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from './mount-flags.js';

/** `strata run`'s command line, parsed. */
export interface RunArgs {
  /** The image or module file; undefined with `--from`. */
  target: string | undefined;
  /** `--from SNAPSHOT`: restore a snapshot instead of using an image. */
  from: string | undefined;
  /** `--label K=V` (for `strata snapshot create`). */
  labels: Record<string, string>;
  guestArgs: string[];
  options: RunOptions;
  root: RootMode | undefined;
  tmpfs: { maxBytes?: number; maxInodes?: number };
  mounts: MountSpec[];
  dev: boolean;
  rm: boolean;
  name: string | undefined;
  diff: boolean;
  apply: boolean;
  insecure: boolean;
  quiet: boolean;
  /** `--` came before the guest's arguments (a COMMAND was given, even empty). */
  explicitCommand: boolean;
  /** `--class CLASS`: the sandbox class whose backend runs it (default wasm, in this process). */
  sandboxClass: string | undefined;
  /** `--host-config FILE`: the host config enabling that class (see `strata host`). */
  hostConfig: string | undefined;
}

/**
 * Parse `strata run`'s options (also `strata snapshot create`'s, which adds
 * `--label`): options first, then the image or module (none with
 * `--from`), then the guest's arguments.
 * Errors: UsageError naming the flag.
 */
export function parseRun(argv: readonly string[], command: 'run' | 'snapshot create' = 'run'): RunArgs | 'help' {
  const env: Record<string, string> = {};
  const tmpfs: { maxBytes?: number; maxInodes?: number } = {};
  const mounts: MountSpec[] = [];
  const cwd = process.cwd();
  let options: RunOptions = {};
  let root: RootMode | undefined;
  const flags = { dev: true, rm: false, diff: false, apply: false, insecure: false, quiet: false };
  let name: string | undefined;
  let from: string | undefined;
  let sandboxClass: string | undefined;
  let hostConfig: string | undefined;
  const labels: Record<string, string> = {};
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
        if (!Object.values(RootMode).includes(mode as RootMode)) throw new UsageError(`--root ${mode}: expected readonly, overlay or tmpfs`);
        root = mode as RootMode;
        break;
      }
      case '--read-only':
        root = RootMode.readonly;
        break;
      case '--tmpfs':
        mounts.push(parseTmpfsFlag(take()));
        break;
      case '-v':
      case '--volume':
        mounts.push(parseVolumeFlag(take(), cwd));
        break;
      case '--mount':
        mounts.push(parseMountFlag(take(), cwd));
        break;
      case '--no-dev':
        flags.dev = false;
        break;
      case '--rm':
      case '--diff':
      case '--apply':
      case '--insecure':
        flags[flag.slice(2) as 'rm' | 'diff' | 'apply' | 'insecure'] = true;
        break;
      case '-q':
      case '--quiet':
        flags.quiet = true;
        break;
      case '--name':
        name = take();
        break;
      case '--from':
        from = take();
        break;
      case '--class':
        sandboxClass = take();
        break;
      case '--host-config':
        hostConfig = take();
        break;
      case '--label': {
        if (command !== 'snapshot create') throw new UsageError(`unknown option '${arg}' (see 'strata ${command} --help')`);
        const kv = take();
        const at = kv.indexOf('=');
        if (at <= 0) throw new UsageError(`--label ${kv}: expected KEY=VALUE`);
        labels[kv.slice(0, at)] = kv.slice(at + 1);
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
      case '--memory':
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
        throw new UsageError(`unknown option '${arg}' (see 'strata ${command} --help')`);
    }
  }
  // With --from there is no image: what follows the options is the command.
  const target = from === undefined ? argv[i] : undefined;
  if (from === undefined && target === undefined) throw new UsageError(`missing IMAGE or MODULE.wasm (see 'strata ${command} --help')`);
  if (flags.apply && !mounts.some((m) => m.type === 'overlay')) throw new UsageError('--apply needs an overlay mount (-v SRC:DST:overlay)');
  if (flags.diff && !mounts.some((m) => m.type === 'overlay')) throw new UsageError('--diff needs an overlay mount (-v SRC:DST:overlay); see also strata diff');
  let guestArgs = argv.slice(from === undefined ? i + 1 : i);
  const explicitCommand = guestArgs[0] === '--';
  if (explicitCommand) guestArgs = guestArgs.slice(1);
  return { target, from, labels, guestArgs, options: { ...options, env }, root, tmpfs, mounts, name, explicitCommand, sandboxClass, hostConfig, ...flags };
}
