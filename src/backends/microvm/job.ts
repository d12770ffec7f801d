import { writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { pack } from 'tar-stream';
import { ErrorCode, StrataError } from '../../errors.js';
import { identityView, type IdentityMount } from '../../sandbox/index.js';

/** Most bytes of argv plus env a job may carry (the guest passes them on one `env -i` command line). */
export const maxJobArgBytes = 96 * 1024;
/** Most bytes of stdin a job may carry (it travels on the job drive, read by the guest before the process starts). */
export const maxJobStdinBytes = 16 << 20;

/** One run of the guest init: what `runtime/microvm/init` reads from its `job` drive. */
export interface Job {
  /** `run` a process, or `export` the overlay root's upper to the state drive (a checkpoint). */
  readonly action: 'run' | 'export';
  readonly args: readonly string[];
  /** `KEY=VALUE` pairs: the process's whole environment. */
  readonly env: readonly string[];
  /** Absolute working directory. */
  readonly workdir: string;
  readonly stdin: Uint8Array;
  /** Byte and inode quotas of a `tmpfs` root (or of an overlay's in-memory upper). */
  readonly rootBytes: number;
  readonly rootInodes: number;
  /** The size of the tar an earlier process left on the state drive (its tmpfs root and mounts); 0 for none. */
  readonly stateBytes: number;
  /** Identity mounts, in manifest order (the init pairs them with its `strata.identity=` words). */
  readonly identity: readonly IdentityMount[];
}

/**
 * Write a job as a tar file, used as the guest's read-only `job` drive:
 * `config` (shell words the init sources: numbers and fixed words only),
 * `argv0` and `env0` (NUL-separated), `cwd`, `stdin`, and
 * `identity/N/…` (the Nth identity mount's files). Padded to a 512-byte
 * multiple (a tar already is).
 *
 * Errors: ERR_INVALID_OPTION naming the offending item: an empty argv, a
 * NUL byte in an argument or env entry, an env entry that is not
 * `KEY=VALUE`, a relative working directory, argv plus env over
 * {@link maxJobArgBytes}, stdin over {@link maxJobStdinBytes}, a quota
 * that is not a positive integer, or a bad identity file (see `identityView`).
 */
export async function writeJob(path: string, job: Job): Promise<void> {
  if (job.action === 'run' && job.args.length === 0) throw new StrataError(ErrorCode.invalidOption, 'nothing to run: argv is empty');
  for (const a of job.args) if (a.includes('\0')) throw new StrataError(ErrorCode.invalidOption, `argument '${a.replaceAll('\0', '\\0').slice(0, 80)}' holds a NUL byte`);
  for (const e of job.env) {
    if (e.includes('\0') || !/^[^=]+=/.test(e)) throw new StrataError(ErrorCode.invalidOption, `env entry '${e.replaceAll('\0', '\\0').slice(0, 80)}' is not KEY=VALUE without NUL bytes`);
  }
  if (!posix.isAbsolute(job.workdir) || job.workdir.includes('\0') || job.workdir.includes('\n')) throw new StrataError(ErrorCode.invalidOption, `working directory '${job.workdir}' must be absolute, without NUL or newline`);
  const argv0 = Buffer.from(job.args.map((a) => `${a}\0`).join(''));
  const env0 = Buffer.from(job.env.map((e) => `${e}\0`).join(''));
  if (argv0.length + env0.length > maxJobArgBytes) throw new StrataError(ErrorCode.invalidOption, `argv and env hold ${argv0.length + env0.length} bytes, over the microVM job's ${maxJobArgBytes}`);
  if (job.stdin.length > maxJobStdinBytes) throw new StrataError(ErrorCode.invalidOption, `stdin holds ${job.stdin.length} bytes, over the microVM job's ${maxJobStdinBytes}`);
  for (const [key, value] of [['rootBytes', job.rootBytes], ['rootInodes', job.rootInodes], ['stateBytes', job.stateBytes + 1]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new StrataError(ErrorCode.invalidOption, `${key} must be a positive integer, got ${value}`);
  }
  for (const mount of job.identity) identityView(mount.files, 0n); // validates names and size

  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  const mtime = new Date(0);
  const file = (name: string, body: Uint8Array | string, mode = 0o644) => tar.entry({ name, mode, mtime, uid: 0, gid: 0 }, typeof body === 'string' ? body : Buffer.from(body));
  file('config', `ACTION=${job.action}\nROOT_BYTES=${job.rootBytes}\nROOT_INODES=${job.rootInodes}\nSTATE=${job.stateBytes > 0 ? 1 : 0}\nSTATE_BYTES=${job.stateBytes}\n`);
  file('argv0', argv0);
  file('env0', env0);
  file('cwd', job.workdir);
  file('stdin', job.stdin);
  tar.entry({ name: 'identity', type: 'directory', mode: 0o755, mtime });
  for (const [n, mount] of job.identity.entries()) {
    tar.entry({ name: `identity/${n}`, type: 'directory', mode: 0o555, mtime });
    const dirs = new Set<string>();
    for (const [name, content] of Object.entries(mount.files)) {
      const parts = name.split('/').filter((p) => p !== '' && p !== '.');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (!dirs.has(dir)) tar.entry({ name: `identity/${n}/${dir}`, type: 'directory', mode: 0o555, mtime });
        dirs.add(dir);
      }
      file(`identity/${n}/${parts.join('/')}`, typeof content === 'string' ? content : content, 0o444);
    }
  }
  tar.finalize();
  await done;
  await writeFile(path, Buffer.concat(chunks));
}
