import { existsSync, readSync, statSync } from 'node:fs';
import type { ImageStore } from '../oci/image-store.js';
import { formatChanges } from '../sandbox/apply-back.js';
import type { Image, MountSpec, RunOptions, RunResult } from '../sandbox/index.js';
// Sandbox and RootMode from their own modules, not the index: `strata run
// MODULE.wasm` then loads no image, store or snapshot code (the image path
// imports it below, when it runs).
import { RootMode } from '../sandbox/root.js';
import { Sandbox } from '../sandbox/sandbox.js';
import type { StreamSource } from '../wasi/index.js';
import { bytes, err, out, positive, UsageError, writeAll } from './io.js';
import { parseRun, type RunArgs } from './run-args.js';
import { isTerminal } from './terminal.js';

/** The text of `strata run --help`. */
export const runHelp = `Usage: strata run [OPTIONS] IMAGE [--] [COMMAND [ARGS...]]
       strata run [OPTIONS] --from SNAPSHOT [--] [COMMAND [ARGS...]]
       strata run [OPTIONS] MODULE.wasm [--] [ARGS...]

Runs a WASI preview1 command in a fresh sandbox: a program from an image
(pulled first if needed; its Entrypoint, Cmd, Env and WorkingDir apply, and a
COMMAND replaces Cmd), or a module file from the host. The guest sees only its
own root, preopened as '/'. stdin, stdout and stderr are streamed; strata
exits with the guest's exit code.

Root and mounts:
  --root MODE          readonly | overlay | tmpfs. Over an image the default is
                       overlay (copy-on-write over the image); without one it is
                       tmpfs (a private in-memory root); tmpfs over an image
                       copies the image in
  --read-only          the same as --root readonly: every write fails with EROFS,
                       with tmpfs at /tmp and /run unless --tmpfs is given
  --tmpfs PATH[:size=N,nr_inodes=N]
                       mount a tmpfs (default 64M, 65536 inodes)
  -v, --volume SRC:DST[:ro|:rw|:overlay]
                       mount a host directory (rw by default), read-only, or as
                       the read-only lower of a copy-on-write overlay whose
                       changes reach the host only with --apply. A SRC without
                       '/' is a named volume in the store
  --mount type=bind|overlay|volume|tmpfs,src=S,dst=D[,ro][,size=N][,nr_inodes=N]
                       the same, spelled as docker's --mount
  --no-dev             no /dev (null, zero, full, random, urandom, stdin, stdout, stderr)
  --diff               at exit, print the changes made in overlay mounts to stderr
                       ('A /path', 'C /path', 'D /path')
  --apply              at exit, write overlay mounts' changes back to the host
                       (refused, writing nothing, if a host file changed meanwhile)

Snapshots:
  --from SNAPSHOT      run over a snapshot (an id from 'strata snapshot ls', or a
                       unique prefix) instead of an image: its image, its
                       filesystem delta and its recorded root mode and mounts;
                       nothing of this run is kept

Keeping the sandbox (image runs with an overlay root):
  --rm                 do not keep the sandbox after the process exits
  --name NAME          name the kept sandbox (for strata cp, diff, rm)
  Without --rm the sandbox is kept, its changes in the store; see 'strata ps'.

Process and limits:
  -e, --env K=V        set an environment variable (repeatable); the host's
                       environment is never passed through
  -w, --workdir DIR    working directory inside the sandbox (must exist; passed
                       to the guest as PWD)
  --timeout MS         stop the guest after MS milliseconds (exit 124)
  --memory, --memory-limit BYTES
                       cap the guest's linear memory (default 1 GiB; K/M/G ok)
  --tmpfs-size BYTES   byte quota of the tmpfs root or the overlay's upper (default 1 GiB)
  --tmpfs-inodes N     inode quota of the same (default 1048576)
  --max-fds N          most open fds in the guest; EMFILE past it (default 1024)
  --trace              print every WASI call and its result to stderr

Sandbox class (another backend, as the host config enables it; see 'strata host'):
  --class CLASS        wasm (default, in this process) | runsc | runc | crun | qemu:
                       run the image's Linux program with that runtime. The same
                       root, mount, env, workdir and timeout flags apply;
                       --memory caps the sandbox's memory, --max-fds its
                       RLIMIT_NOFILE; --trace, --diff, --apply, --no-dev and
                       --name are the wasm class's only. Nothing is kept
  --host-config FILE   the host config (default $STRATA_HOST_CONFIG, else
                       $STRATA_HOME/host.json)

Pulling a missing image:
  --insecure           talk plain HTTP to the registry
  -q, --quiet          no pull progress (it goes to stderr)
  -h, --help           show this help

Options go before IMAGE or MODULE; everything after it (or after --) is the
guest's.

Exit status: the guest's code; 124 on timeout; 134 if the guest trapped;
1 if strata could not run it (not wasm, unknown import, missing file or image,
an apply conflict); 2 for a bad command line.

Examples:
  strata run oci:examples/hello-image:1.0 -- strata
  strata run --read-only -v ./out:/out oci:examples/hello-image:1.0
  strata run --rm -v ./src:/src:overlay --diff IMAGE -- /bin/tool /src
  strata run --env NAME=world guests/bin/hello.wasm -- strata
  strata run --class runc --read-only IMAGE -- /bin/sh -c 'echo hi'
`;

/** `strata run`: returns the guest's exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const parsed = parseRun(argv);
  if (parsed === 'help') {
    out(runHelp);
    return 0;
  }
  if (parsed.sandboxClass !== undefined && parsed.sandboxClass !== 'wasm') {
    const { runOnClass } = await import('./run-class.js');
    return runOnClass(parsed, parsed.sandboxClass, parsed.hostConfig);
  }
  const io: RunOptions = {
    ...parsed.options,
    stdin: stdinSource(),
    stdout: (chunk) => writeAll(1, chunk),
    stderr: (chunk) => writeAll(2, chunk),
    // The guest sees a terminal only where strata's own fd is one.
    tty: { stdin: isTerminal(0), stdout: isTerminal(1), stderr: isTerminal(2) },
  };
  const common = sandboxOptions(parsed);
  const command = parsed.explicitCommand || parsed.guestArgs.length > 0 ? parsed.guestArgs : undefined;
  if (parsed.from !== undefined) {
    // A run from a snapshot keeps nothing: commit what should last with 'strata snapshot create --from'.
    const { ImageStore } = await import('../oci/image-store.js');
    const store = await ImageStore.open();
    const sandbox = await Sandbox.create({ ...common, from: parsed.from, store, ...(parsed.root !== undefined && { root: parsed.root }) });
    return (await runAndReport(sandbox, parsed, () => sandbox.exec(command, io))).exitCode;
  }
  const target = parsed.target!;
  if (isModulePath(target)) {
    if (parsed.root !== undefined && parsed.root !== RootMode.tmpfs) throw new UsageError(`--root ${parsed.root} needs an image; a module file runs in a tmpfs root`);
    const sandbox = await Sandbox.create(common);
    return (await runAndReport(sandbox, parsed, () => sandbox.run(target, { ...io, args: parsed.guestArgs }))).exitCode;
  }
  const [{ ImageStore }, { KeptSandboxes }] = await Promise.all([import('../oci/image-store.js'), import('../sandbox/kept.js')]);
  const store = await ImageStore.open();
  const image = await openImageWithProgress(target, parsed, store);
  const root = parsed.root ?? RootMode.overlay;
  const keep = !parsed.rm && root === RootMode.overlay;
  if (!parsed.rm && root !== RootMode.overlay && parsed.name !== undefined) throw new UsageError(`--name keeps a sandbox, which needs an overlay root, not ${root}`);
  const kept = keep ? new KeptSandboxes(store.root) : undefined;
  const reserved = await kept?.create({
    ...(parsed.name !== undefined && { name: parsed.name }),
    image: image.record.reference,
    manifestDigest: image.record.manifestDigest,
    mounts: parsed.mounts,
    command: [...image.process.entrypoint, ...(command ?? image.process.cmd)],
  });
  const sandbox = await Sandbox.create({ ...common, image, root, store, ...(reserved !== undefined && { upper: { dir: reserved.upperDir } }) });
  const result = await runAndReport(sandbox, parsed, () => sandbox.exec(command, io));
  if (reserved !== undefined) {
    sandbox.sync();
    await kept!.exited(reserved.record, result.exitCode);
  }
  return result.exitCode;
}

/** The sandbox options every run shares: quotas, mounts, /dev. */
export function sandboxOptions(parsed: RunArgs): { tmpfs?: { maxBytes?: number; maxInodes?: number }; mounts: MountSpec[]; dev: boolean } {
  return {
    ...(Object.keys(parsed.tmpfs).length > 0 && { tmpfs: parsed.tmpfs }),
    mounts: parsed.mounts,
    dev: parsed.dev,
  };
}

/** Open an image from the store, pulling it first with progress on stderr (unless -q). */
export async function openImageWithProgress(target: string, parsed: Pick<RunArgs, 'quiet' | 'insecure'>, store: ImageStore): Promise<Image> {
  const [{ credentialsFromEnv }, { openImage }, { PullProgress }] = await Promise.all([import('../oci/auth.js'), import('../sandbox/image.js'), import('./progress.js')]);
  const progress = parsed.quiet ? undefined : new PullProgress({ write: err, tty: process.stderr.isTTY === true, columns: process.stderr.columns ?? 80 });
  const credentials = credentialsFromEnv();
  let started = false;
  return openImage(target, {
    store,
    ...(parsed.insecure && { insecure: true }),
    ...(credentials !== undefined && { credentials }),
    ...(progress !== undefined && {
      onEvent: (event) => {
        if (!started) progress.start(target);
        started = true;
        progress.handle(event);
      },
    }),
  });
}

/** Run, then print the overlay mounts' changes (--diff) and apply them (--apply). */
export async function runAndReport(sandbox: Sandbox, parsed: RunArgs, job: () => Promise<RunResult>): Promise<RunResult> {
  const result = await job();
  for (const mount of parsed.mounts) {
    if (mount.type !== 'overlay') continue;
    if (parsed.diff) err(formatChanges(sandbox.mountChanges(mount.target)));
    if (parsed.apply) {
      const { applied } = sandbox.applyMount(mount.target);
      err(`strata: applied ${applied.length} change(s) to ${mount.source}\n`);
    }
  }
  return result;
}

/**
 * Whether the target names a module file on the host rather than an image:
 * a path ending in `.wasm` (without an image transport), or any existing
 * host file.
 */
function isModulePath(target: string): boolean {
  if (/^(oci|docker-archive|docker):/.test(target)) return false;
  if (target.endsWith('.wasm')) return true;
  return existsSync(target) && statSync(target).isFile();
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
