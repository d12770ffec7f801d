import { readFileSync } from 'node:fs';
import { ErrorCode, StrataError } from '../errors.js';
import { FsError } from '../vfs/index.js';
import { GuestError } from '../sandbox/index.js';
import { gcCommand, gcHelp, imagesCommand, imagesHelp, inspectCommand, inspectHelp, rmiCommand, rmiHelp } from './images.js';
import { err, out, UsageError } from './io.js';
import { pullCommand, pullHelp } from './pull.js';
import { run, runHelp } from './run.js';

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
  strata run [OPTIONS] MODULE.wasm [--] [ARGS...]
  strata pull [OPTIONS] REF
  strata images [--json]
  strata inspect REF
  strata rmi REF...
  strata gc [--json]
  strata help [COMMAND]
  strata --version

Commands:
  run       run a WASI preview1 command module in a fresh sandbox
  pull      fetch an image (registry, oci:DIR, docker-archive:FILE) into the store
  images    list pulled images
  inspect   print a pulled image's manifest digest, platform, config and layers as JSON
  rmi       remove pulled images from the catalogue
  gc        delete blobs and layer caches no pulled image uses

Run 'strata COMMAND --help' for a command's options.
`;

const helps: Readonly<Record<string, string>> = { run: runHelp, pull: pullHelp, images: imagesHelp, inspect: inspectHelp, rmi: rmiHelp, gc: gcHelp };

/** Run the CLI with `argv` (without node and the script). Returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        out(rest[0] !== undefined && Object.hasOwn(helps, rest[0]) ? helps[rest[0]]! : mainHelp);
        return command === undefined ? CliExit.usage : 0;
      case '--version':
      case 'version':
        out(`strata ${version()}\n`);
        return 0;
      case 'run':
        return await run(rest);
      case 'pull':
        return await pullCommand(rest);
      case 'images':
        return await imagesCommand(rest);
      case 'inspect':
        return await inspectCommand(rest);
      case 'rmi':
        return await rmiCommand(rest);
      case 'gc':
        return await gcCommand(rest);
      default:
        throw new UsageError(`unknown command '${command}'`);
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
  if (error instanceof GuestError) {
    say(`${error.code}: ${error.message}`);
    if (error.code === ErrorCode.timeout) return CliExit.timeout;
    if (error.code === ErrorCode.guestTrap) return CliExit.trap;
    return CliExit.error;
  }
  if (error instanceof StrataError || error instanceof FsError) {
    say(`${error.code}: ${error.message}`);
    return error instanceof StrataError && usageCodes.has(error.code) ? CliExit.usage : CliExit.error;
  }
  throw error;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
