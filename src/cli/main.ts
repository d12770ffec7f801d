import { readFileSync } from 'node:fs';
import { ErrorCode, StrataError } from '../errors.js';
import { packageVersion } from '../package-files.js';
import { FsError } from '../vfs/errors.js';
import { err, out, UsageError } from './io.js';

/** Exit statuses of the CLI itself, beside the guest's own code. */
export const CliExit = {
  /** strata failed before or around the guest (bad module, missing file). */
  error: 1,
  /** Bad command line. */
  usage: 2,
  /** The guest ran past --timeout (as timeout(1) reports it). */
  timeout: 124,
  /** The guest trapped (as a SIGABRT would be reported). */
  trap: 134,
} as const;

const mainHelp = `strata: run untrusted programs in sandboxes with their own filesystem root

Usage:
  strata run [OPTIONS] IMAGE [--] [COMMAND [ARGS...]]
  strata run [OPTIONS] MODULE.wasm [--] [ARGS...]
  strata run [OPTIONS] --from SNAPSHOT [--] [COMMAND [ARGS...]]
  strata snapshot create|ls|inspect|rm|export|import ...
  strata ps [--json]
  strata diff SANDBOX
  strata cp SANDBOX:PATH HOSTPATH | HOSTPATH SANDBOX:PATH
  strata rm SANDBOX...
  strata pull [OPTIONS] REF
  strata images [--json]
  strata inspect REF
  strata rmi REF...
  strata gc [--json]
  strata host show|pin|verify ...
  strata help [COMMAND]
  strata --version

Commands:
  run       run a WASI preview1 command from an image or a module file in a fresh sandbox
  snapshot  commit a sandbox's state as a snapshot; list, inspect, remove, export, import them
  ps        list the sandboxes kept after 'strata run IMAGE'
  diff      print what a kept sandbox changed in its root
  cp        copy files into or out of a kept sandbox
  rm        remove kept sandboxes
  pull      fetch an image (registry, oci:DIR, docker-archive:FILE) into the store
  images    list pulled images
  inspect   print a pulled image's manifest digest, platform, config and layers as JSON
  rmi       remove pulled images from the catalogue
  gc        delete blobs and layer caches no pulled image uses
  host      show the host config; pin a binary (runc, crun, runsc, …) to enable its class

Run 'strata COMMAND --help' for a command's options.
`;

// Each command's module is loaded only when it runs (or its help is asked
// for): `strata run` never loads the image code, and the reverse.
type Command = { help: string; run: (argv: readonly string[]) => Promise<number> };
const commands: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => {
    const m = await import('./run.js');
    return { help: m.runHelp, run: m.run };
  },
  snapshot: async () => {
    const m = await import('./snapshot.js');
    return { help: m.snapshotHelp, run: m.snapshotCommand };
  },
  ps: async () => {
    const m = await import('./sandboxes.js');
    return { help: m.psHelp, run: m.psCommand };
  },
  diff: async () => {
    const m = await import('./sandboxes.js');
    return { help: m.diffHelp, run: m.diffCommand };
  },
  cp: async () => {
    const m = await import('./sandboxes.js');
    return { help: m.cpHelp, run: m.cpCommand };
  },
  rm: async () => {
    const m = await import('./sandboxes.js');
    return { help: m.rmHelp, run: m.rmCommand };
  },
  pull: async () => {
    const m = await import('./pull.js');
    return { help: m.pullHelp, run: m.pullCommand };
  },
  images: async () => {
    const m = await import('./images.js');
    return { help: m.imagesHelp, run: m.imagesCommand };
  },
  inspect: async () => {
    const m = await import('./images.js');
    return { help: m.inspectHelp, run: m.inspectCommand };
  },
  rmi: async () => {
    const m = await import('./images.js');
    return { help: m.rmiHelp, run: m.rmiCommand };
  },
  gc: async () => {
    const m = await import('./images.js');
    return { help: m.gcHelp, run: m.gcCommand };
  },
  host: async () => {
    const m = await import('./host.js');
    return { help: m.hostHelp, run: m.hostCommand };
  },
};

/** Run the CLI with `argv` (without node and the script). Returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '-h':
      case '--help': {
        const topic = rest[0] !== undefined && Object.hasOwn(commands, rest[0]) ? commands[rest[0]] : undefined;
        out(topic === undefined ? mainHelp : (await topic()).help);
        return command === undefined ? CliExit.usage : 0;
      }
      case '--version':
      case 'version':
        out(`strata ${version()}\n`);
        return 0;
      default: {
        const load = Object.hasOwn(commands, command) ? commands[command] : undefined;
        if (load === undefined) throw new UsageError(`unknown command '${command}'`);
        return await (await load()).run(rest);
      }
    }
  } catch (error) {
    return report(error);
  }
}

/** Codes that mean the command line named something badly: exit 2, like a usage error. */
const usageCodes: ReadonlySet<string> = new Set([ErrorCode.invalidOption, ErrorCode.badReference]);

function report(error: unknown): number {
  const say = (text: string) => err(`strata: ${text}\n`);
  if (error instanceof UsageError) {
    say(error.message);
    return CliExit.usage;
  }
  if (error instanceof StrataError && (error.code === ErrorCode.timeout || error.code === ErrorCode.guestTrap)) {
    say(`${error.code}: ${error.message}`);
    return error.code === ErrorCode.timeout ? CliExit.timeout : CliExit.trap;
  }
  if (error instanceof StrataError || error instanceof FsError) {
    say(`${error.code}: ${error.message}`);
    return error instanceof StrataError && usageCodes.has(error.code) ? CliExit.usage : CliExit.error;
  }
  // Anything else is a bug in strata, never the input's doing: say so as a
  // typed error, without a stack trace (STRATA_DEBUG=1 prints it).
  const internal = new StrataError(ErrorCode.internal, `unexpected host error: ${describe(error)}`, { cause: error });
  say(`${internal.code}: ${internal.message}`);
  if (process.env['STRATA_DEBUG'] === '1' && error instanceof Error && error.stack !== undefined) err(`${error.stack}\n`);
  return CliExit.error;
}

/** One line naming an unexpected error: its name or code and message, nothing more. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 500);
  const code = (error as { code?: unknown }).code;
  const label = typeof code === 'string' ? `${error.name} ${code}` : error.name;
  return `${label}: ${error.message.split('\n')[0]!.slice(0, 500)}`;
}

function version(): string {
  return packageVersion();
}
