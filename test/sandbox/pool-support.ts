/**
 * What the pool tests share. The pool's workers run compiled JS
 * (`dist/sandbox/pool/worker-entry.js`), so these tests load strata from
 * the built `dist/` (`npm test` builds first; alone, run `npm run build`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as Strata from '../../src/index.js';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const workerScript = fileURLToPath(new URL('../../dist/sandbox/pool/worker-entry.js', import.meta.url));

/** strata as built in dist/. Errors: a clear one when it is not built. */
export async function builtStrata(): Promise<typeof Strata> {
  if (!existsSync(dist) || !existsSync(workerScript)) {
    throw new Error(`the pool tests need the built package (${workerScript} is missing): run \`npm run build\` first (npm test does)`);
  }
  return (await import(dist)) as typeof Strata;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The largest gap between ticks of a 5 ms interval timer while `during` runs. */
export async function timerLateness<T>(during: () => Promise<T>): Promise<{ result: T; maxGapMs: number; ticks: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, 5);
  try {
    const result = await during();
    return { result, maxGapMs, ticks };
  } finally {
    clearInterval(timer);
  }
}

interface FsLike {
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<{ ino: bigint; size: number; nlink: number; isDirectory(): boolean }>;
}

/**
 * Recount a tmpfs root through the fs API, as test/security/recount.ts
 * recounts a Tmpfs from its tree: bytes of every non-directory inode once,
 * inodes (the root, directories, other inodes once), and the structure
 * (a file's nlink is its number of names, a directory's 2 plus its
 * subdirectories). `skip` are mount points of other filesystems.
 */
export async function recountThroughFs(fs: FsLike, skip: readonly string[] = ['/dev']): Promise<{ bytes: number; inodes: number; faults: string[] }> {
  const names = new Map<bigint, { count: number; size: number; nlink: number }>();
  const faults: string[] = [];
  let inodes = 1;
  const walk = async (dir: string) => {
    let subdirs = 0;
    for (const name of await fs.readdir(dir)) {
      const path = `${dir === '/' ? '' : dir}/${name}`;
      if (skip.includes(path)) continue; // a mount point made by the namespace, not in the tmpfs
      const st = await fs.lstat(path);
      if (st.isDirectory()) {
        subdirs++;
        inodes++;
        await walk(path);
        continue;
      }
      const seen = names.get(st.ino);
      if (seen === undefined) {
        inodes++;
        names.set(st.ino, { count: 1, size: st.size, nlink: st.nlink });
      } else {
        seen.count++;
        inodes++;
      }
    }
    const nlink = (await fs.lstat(dir)).nlink;
    if (nlink !== 2 + subdirs) faults.push(`${dir}: nlink ${nlink}, expected ${2 + subdirs}`);
  };
  await walk('/');
  let bytes = 0;
  for (const [ino, { count, size, nlink }] of names) {
    bytes += size;
    if (nlink !== count) faults.push(`inode ${ino}: nlink ${nlink}, ${count} names`);
  }
  return { bytes, inodes, faults };
}
