import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StrataError } from '../errors.js';

/** A held lock or lease; `release()` is idempotent. */
export interface StoreLock {
  release(): Promise<void>;
}

/** Options of the lock functions. */
export interface LockOptions {
  /** Give up after this long (ERR_STORE_BUSY). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Options of {@link acquirePullLease}. */
export interface LeaseOptions extends LockOptions {
  /** What the lease is for, in its file name and in gc's ERR_STORE_BUSY message: `pull` (default) or `rootfs` (building a cached root tree). */
  readonly purpose?: 'pull' | 'rootfs';
}

const gcLockName = 'gc.lock';
const leaseSuffix = '.lease';
const pollMs = 50;
/** A lock taken on another host is presumed dead after this long. */
const foreignStaleMs = 24 * 60 * 60 * 1000;

/**
 * A reader-writer lock between the processes sharing one store, made of
 * files under `<root>/locks`: pulls and rootfs builds hold shared leases
 * (`*.lease`), a garbage collection holds the exclusive `gc.lock`.
 *
 * A pull takes its lease only while no gc holds the lock (and checks again
 * after taking it), and a gc sweeps only once every lease has gone. So a gc
 * never deletes a blob that a pull has fetched or found but not yet
 * catalogued, nor a cached rootfs tree being built or not yet held (see
 * rootfs-cache.ts). A lock whose process is dead (same host, pid gone) is
 * stale and removed; one from another host is presumed alive for a day.
 */
export async function acquirePullLease(root: string, options: LeaseOptions = {}): Promise<StoreLock> {
  const dir = await locksDir(root);
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  const lease = join(dir, `${options.purpose ?? 'pull'}-${process.pid}-${randomBytes(6).toString('hex')}${leaseSuffix}`);
  for (;;) {
    if (!(await liveLock(join(dir, gcLockName)))) {
      await writeFile(lease, owner(), { flag: 'wx' });
      if (!(await liveLock(join(dir, gcLockName)))) return releaser(lease);
      await rm(lease, { force: true });
    }
    if (Date.now() > deadline) throw new StrataError('ERR_STORE_BUSY', `the image store at ${root} is locked by a garbage collection (${join(dir, gcLockName)})`);
    await sleep(pollMs, undefined, options.signal !== undefined ? { signal: options.signal } : {});
  }
}

/**
 * Take the store's exclusive gc lock, then wait until no pull holds a lease.
 * Errors: ERR_STORE_BUSY (another gc runs, or pulls are still running at the
 * timeout; names their pids).
 */
export async function acquireGcLock(root: string, options: LockOptions = {}): Promise<StoreLock> {
  const dir = await locksDir(root);
  const lock = join(dir, gcLockName);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    try {
      await writeFile(lock, owner(), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await liveLock(lock)) throw new StrataError('ERR_STORE_BUSY', `another garbage collection is running on ${root} (${lock})`);
    }
  }
  const held = releaser(lock);
  try {
    for (;;) {
      const leases = (await readdir(dir)).filter((n) => n.endsWith(leaseSuffix));
      const live: string[] = [];
      for (const name of leases) if (await liveLock(join(dir, name))) live.push(name);
      if (live.length === 0) return held;
      if (Date.now() > deadline) {
        const pids = live.map((n) => n.split('-')[1]).join(', ');
        throw new StrataError('ERR_STORE_BUSY', `${live.length} pull(s) or rootfs build(s) are still running on ${root} (pids ${pids}); try again when they finish`);
      }
      await sleep(pollMs, undefined, options.signal !== undefined ? { signal: options.signal } : {});
    }
  } catch (error) {
    await held.release();
    throw error;
  }
}

/**
 * Take a hold: a file at `path` naming this process (created exclusively,
 * its directory made), which {@link liveLock} sees as alive until
 * `release()` removes it or this process dies.
 */
export async function acquireHold(path: string): Promise<StoreLock> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, owner(), { flag: 'wx' });
  return releaser(path);
}

async function locksDir(root: string): Promise<string> {
  const dir = join(root, 'locks');
  await mkdir(dir, { recursive: true });
  return dir;
}

function owner(): string {
  return JSON.stringify({ pid: process.pid, host: hostname(), created: new Date().toISOString() });
}

function releaser(path: string): StoreLock {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await rm(path, { force: true });
    },
  };
}

/** Whether a lock file (lock, lease or hold) exists and its holder is alive; a stale one is removed. */
export async function liveLock(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return false;
  }
  let holder: { pid?: unknown; host?: unknown };
  try {
    holder = JSON.parse(text) as { pid?: unknown; host?: unknown };
  } catch {
    // Being written right now (writeFile is not atomic), or left empty by a crash.
    holder = {};
  }
  let alive: boolean;
  const age = Date.now() - (await stat(path).then((s) => s.mtimeMs, () => 0));
  if (holder.pid === undefined) {
    alive = age < 10_000;
  } else if (holder.host !== hostname()) {
    alive = age < foreignStaleMs;
  } else {
    alive = typeof holder.pid === 'number' && processAlive(holder.pid);
  }
  if (!alive) await rm(path, { force: true });
  return alive;
}

/** Whether a process with this pid exists (on this host). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
