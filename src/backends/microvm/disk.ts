import { execFile } from 'node:child_process';
import { lstat, mkdir, open, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';

/** Free room an ext4 root image gets beyond its files (ext4 metadata, the journal, a margin). */
const rootSlackBytes = 32 << 20;

/** Bytes and inodes of a host tree (lstat sizes; directories and links count as inodes). */
export async function treeSize(dir: string): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  let inodes = 1;
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await lstat(path);
    inodes++;
    bytes += st.isFile() ? st.size : 0;
    if (st.isDirectory()) {
      const sub = await treeSize(path);
      bytes += sub.bytes;
      inodes += sub.inodes - 1;
    }
  }
  return { bytes, inodes };
}

/**
 * Make each mount target a directory in the tree `root` (as an OCI runtime
 * does), where every existing component is a real directory. A component
 * that is a symlink or a file is left alone: the guest resolves it inside
 * the VM, and nothing is ever created outside `root` on the host.
 */
export async function makeMountpoints(root: string, targets: readonly string[]): Promise<void> {
  for (const target of targets) {
    let at = root;
    for (const part of posix.normalize(target).split('/').filter(Boolean)) {
      at = join(at, part);
      const st = await lstat(at).catch(() => undefined);
      if (st === undefined) await mkdir(at, { mode: 0o755 });
      else if (!st.isDirectory()) break;
    }
  }
}

/** Run `mke2fs` (e2fsprogs); errors become ERR_RUNTIME_FAILED with its stderr. */
function mke2fs(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mke2fs', [...args], { timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error === null) return resolve();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new StrataError(ErrorCode.runtimeFailed, missing ? 'mke2fs is not installed (Debian: e2fsprogs)' : `mke2fs ${args.join(' ')} failed: ${String(stderr).trim() || error.message}`, { cause: error }));
    });
  });
}

/**
 * An ext4 image of the tree `dir` (`mke2fs -d`, no root needed): sparse,
 * sized to the tree plus room for ext4's own metadata.
 */
export async function ext4FromTree(image: string, dir: string): Promise<void> {
  const { bytes, inodes } = await treeSize(dir);
  const size = Math.ceil((bytes * 1.25 + inodes * 4096 + rootSlackBytes) / (1 << 20));
  await mke2fs(['-q', '-F', '-t', 'ext4', '-N', String(inodes + 1024), '-d', dir, image, `${size}M`]);
}

/** An empty ext4 image of `bytes` (sparse) with `inodes` inodes: an overlay root's upper drive. */
export async function emptyExt4(image: string, bytes: number, inodes: number): Promise<void> {
  // ext4's journal and metadata live inside the image: give them room over the quota.
  const size = Math.ceil((bytes + rootSlackBytes) / (1 << 20));
  await mke2fs(['-q', '-F', '-t', 'ext4', '-N', String(Math.max(inodes, 128)), image, `${size}M`]);
}

/** A sparse file of `bytes`: a raw drive the guest writes a tar to. */
export async function sparseFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(Math.ceil(bytes / 512) * 512);
  } finally {
    await handle.close();
  }
}
