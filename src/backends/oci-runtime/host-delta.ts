import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readlink, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { type BlobStore, type Digest } from '../../oci/index.js';
import type { LayerDescriptor } from '../../snapshot/index.js';

/** Where a host tree's changes are read from. */
export type HostDeltaSource =
  /**
   * A kernel overlayfs root: its upper (what changed), the merged view and
   * the lower (to find what an opaque directory hid). `owner`: the ids
   * every entry gets in the layer (a rootless root's upper is the
   * caller's, who is the container's root: 0:0).
   */
  | { readonly kind: 'overlay'; readonly upper: string; readonly merged: string; readonly lower: string; readonly owner?: { readonly uid: number; readonly gid: number } }
  /** A whole tree (a tmpfs root): every entry. */
  | { readonly kind: 'tree'; readonly root: string };

type Member = { readonly path: string; readonly type: 'directory' | 'file' | 'symlink' | 'whiteout' | 'link'; readonly host?: string; readonly linkTo?: string };

/**
 * Write a container root's changes as an OCI delta layer (tar + gzip level
 * 1) into the blob store, hashed as it streams (digest and diffID).
 *
 * From a kernel overlayfs root: each entry of the upper is a change; a
 * whiteout (a 0/0 character device) becomes `.wh.NAME`; a directory that
 * exists in the lower gets a `.wh.NAME` for every lower child the merged
 * view no longer shows, which is what an opaque directory means (read
 * without xattrs, which Node cannot read). From a tree: every entry.
 * Paths in `exclude` (mount points the runtime made) are left out, as are
 * devices, fifos and sockets. A file with several names is written once and
 * linked. Owners (or the source's `owner`), modes and mtimes are kept.
 * https://github.com/opencontainers/image-spec/blob/main/layer.md
 *
 * Errors: those of the host filesystem (nothing is stored).
 */
export async function writeHostDelta(blobs: BlobStore, source: HostDeltaSource, exclude: readonly string[]): Promise<LayerDescriptor> {
  const skip = new Set(exclude.map((p) => p.replace(/\/+$/, '')));
  const members: Member[] = [];
  if (source.kind === 'overlay') await walkOverlay(source, '', skip, members);
  else await walkTree(source.root, '', skip, members);
  const tar = pack();
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const temp = blobs.tempPath('oci-delta');
  const tap = (each: (c: Buffer) => void) => new Transform({ transform: (c: Buffer, _e, done) => (each(c), done(null, c)) });
  const written = pipeline(tar, tap((c) => tarHash.update(c)), createGzip({ level: 1 }), tap((c) => (blobHash.update(c), (size += c.length))), createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
  try {
    await Promise.all([written, packMembers(tar, members, source.kind === 'overlay' ? source.owner : undefined)]);
    const digest = `sha256:${blobHash.digest('hex')}` as Digest;
    await rename(temp, blobs.path(digest));
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size, diffID: `sha256:${tarHash.digest('hex')}` as Digest };
  } catch (error) {
    tar.destroy();
    await unlink(temp).catch(() => {});
    throw error;
  }
}

async function walkOverlay(source: { upper: string; merged: string; lower: string }, rel: string, skip: Set<string>, out: Member[]): Promise<void> {
  const names = (await readdir(join(source.upper, rel))).sort();
  if (rel !== '') {
    // Lower children the merged view lost: deleted (an opaque directory or whiteouts).
    const lower = await readdir(join(source.lower, rel)).catch(() => [] as string[]);
    const merged = new Set(await readdir(join(source.merged, rel)).catch(() => [] as string[]));
    for (const name of lower.sort()) {
      if (!merged.has(name) && !names.includes(name)) out.push({ path: `${rel}/.wh.${name}`, type: 'whiteout' });
    }
  }
  for (const name of names) {
    const path = `${rel}/${name}`;
    if (skip.has(path)) continue;
    const host = join(source.upper, rel, name);
    const st = await lstat(host);
    if (st.isCharacterDevice() && st.rdev === 0) {
      out.push({ path: `${rel}/.wh.${name}`, type: 'whiteout' });
    } else if (st.isDirectory()) {
      out.push({ path, type: 'directory', host });
      await walkOverlay(source, path, skip, out);
    } else {
      member(path, host, st, out);
    }
  }
}

async function walkTree(root: string, rel: string, skip: Set<string>, out: Member[]): Promise<void> {
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = `${rel}/${name}`;
    if (skip.has(path)) continue;
    const host = join(root, rel, name);
    const st = await lstat(host);
    if (st.isDirectory()) {
      out.push({ path, type: 'directory', host });
      await walkTree(root, path, skip, out);
    } else {
      member(path, host, st, out);
    }
  }
}

const seen = new WeakMap<Member[], Map<string, string>>();

function member(path: string, host: string, st: Awaited<ReturnType<typeof lstat>>, out: Member[]): void {
  if (st.isSymbolicLink()) out.push({ path, type: 'symlink', host });
  else if (st.isFile()) {
    let inodes = seen.get(out);
    if (inodes === undefined) seen.set(out, (inodes = new Map()));
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? inodes.get(key) : undefined;
    if (first !== undefined) out.push({ path, type: 'link', linkTo: first });
    else {
      if (st.nlink > 1) inodes.set(key, path);
      out.push({ path, type: 'file', host });
    }
  }
  // Devices, fifos and sockets are never written to a layer.
}

async function packMembers(tar: ReturnType<typeof pack>, members: readonly Member[], owner: { uid: number; gid: number } | undefined): Promise<void> {
  for (const m of members) {
    const name = m.path.slice(1);
    if (m.type === 'whiteout') {
      await entry(tar, { name, type: 'file', mode: 0o644, size: 0, mtime: new Date(0) });
      continue;
    }
    if (m.type === 'link') {
      await entry(tar, { name, type: 'link', linkname: m.linkTo!.slice(1), size: 0 });
      continue;
    }
    const st = await lstat(m.host!);
    const base = { name, mode: st.mode & 0o7777, uid: owner?.uid ?? st.uid, gid: owner?.gid ?? st.gid, mtime: st.mtime };
    if (m.type === 'directory') await entry(tar, { ...base, type: 'directory', size: 0 });
    else if (m.type === 'symlink') await entry(tar, { ...base, type: 'symlink', linkname: await readlink(m.host!), size: 0 });
    else {
      await new Promise<void>((resolve, reject) => {
        const sink = tar.entry({ ...base, type: 'file', size: st.size } as Header, (error) => (error ? reject(error) : resolve()));
        pipeline(createReadStream(m.host!), sink).catch(reject);
      });
    }
  }
  tar.finalize();
}

function entry(tar: ReturnType<typeof pack>, header: Partial<Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) => tar.entry(header as Header, Buffer.alloc(0), (error) => (error ? reject(error) : resolve())));
}
