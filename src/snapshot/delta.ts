import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Header, Pack } from 'tar-stream';
import { MediaType, type BlobStore, type Digest } from '../oci/index.js';
import { firstEntryCookie, opaqueMarker, Overlay, whiteoutPrefix, type DirNode, type FileNode, type Node, type Stat } from '../vfs/index.js';
import { adaptiveGzip } from './adaptive-gzip.js';
import { deltaLayerMediaType, type LayerDescriptor } from './manifest.js';

/**
 * What one delta layer is made from:
 * - a sealed {@link Overlay}: its own changes against its lower (whiteouts
 *   for deletions, `.wh..wh..opq` for opaque directories, metadata-only
 *   copy-ups included), as `overlay.changes()` lists them;
 * - a frozen directory tree (a `tmpfs` root): the whole tree.
 */
export type DeltaSource = Overlay | DirNode;

/** The body of every member but a regular file's (an entry given no body waits for one). */
const empty = Buffer.alloc(0);

/** Options of {@link writeDeltaLayer}. */
export interface DeltaOptions {
  /** `gzip` (default: `application/vnd.oci.image.layer.v1.tar+gzip`) or `none` (a plain tar: no compression cost, digest = diffID). */
  readonly compression?: 'gzip' | 'none';
}

/** Bytes read from a file at a time while it is written into the tar. */
const chunkBytes = 1 << 20;

/**
 * One tar member to write: a directory, a file (its bytes read from the
 * node when written), a symlink, a hard link to an earlier member, or a
 * whiteout / opaque marker (an empty file).
 */
interface Member {
  readonly path: string;
  readonly kind: 'directory' | 'file' | 'symlink' | 'link' | 'marker';
  readonly stat?: Stat;
  readonly node?: Node;
  readonly linkTo?: string;
}

/**
 * Write a delta layer into the blob store: a tar of the source's changes
 * (OCI image-spec changeset rules: `.wh.NAME` whiteouts, `.wh..wh..opq`
 * opaque directories, hard links as link members), gzipped. The tar is
 * streamed through the diffID hash, gzip (level 1; a large chunk that does not
 * compress is stored) and the digest hash into a temp
 * file, one file chunk at a time, so the layer is never held in memory; the
 * blob is renamed into place once complete.
 *
 * The source must not change while it is written: a sealed overlay or a
 * frozen tmpfs (both refuse every mutation with EROFS).
 * https://github.com/opencontainers/image-spec/blob/main/layer.md
 *
 * Errors: those of the host filesystem writing the blob (nothing is stored).
 */
export async function writeDeltaLayer(blobs: BlobStore, source: DeltaSource, options: DeltaOptions = {}): Promise<LayerDescriptor> {
  const gzip = (options.compression ?? 'gzip') === 'gzip';
  // Loaded on the first commit only: `strata run` and restores never need it.
  const { pack } = await import('tar-stream');
  const tar = pack();
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const temp = blobs.tempPath('delta');
  const count = tap((chunk) => {
    blobHash.update(chunk);
    size += chunk.length;
  });
  const sink = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
  // Level 1, and stored where a chunk is incompressible: a commit is on the way to a restore far more often than to a registry; see docs/decisions.md.
  const z = adaptiveGzip(1, (chunk) => tarHash.update(chunk));
  const written = gzip ? pipeline(tar, z, count, sink) : pipeline(tar, count, sink);
  try {
    await Promise.all([written, writeMembers(tar, source instanceof Overlay ? overlayMembers(source) : treeMembers(source))]);
    const digest = `sha256:${blobHash.digest('hex')}` as Digest;
    await rename(temp, blobs.path(digest));
    return { mediaType: gzip ? deltaLayerMediaType : MediaType.ociLayer, digest, size, diffID: gzip ? (`sha256:${tarHash.digest('hex')}` as Digest) : digest };
  } catch (error) {
    tar.destroy();
    await unlink(temp).catch(() => {});
    throw error;
  }
}

function tap(each: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      each(chunk);
      done(null, chunk);
    },
  });
}

/** Pack members in order, each file's bytes a chunk at a time, waiting for the tar stream to drain. */
async function writeMembers(tar: Pack, members: Iterable<Member>): Promise<void> {
  for (const member of members) {
    const header = headerOf(member);
    if (member.kind !== 'file') {
      await new Promise<void>((resolve, reject) => tar.entry(header, empty, (error) => (error ? reject(error) : resolve())));
      continue;
    }
    const file = member.node as FileNode;
    await new Promise<void>((resolve, reject) => {
      const sink = tar.entry(header, (error) => (error ? reject(error) : resolve()));
      // Writes from `start` until the sink wants a drain, then resumes from there.
      const pumpFrom = (start: number) => {
        try {
          for (let at = start; at < header.size!; ) {
            const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, header.size! - at));
            const n = file.read(buffer, 0, buffer.length, at);
            if (n === 0) throw new Error(`'${member.path}' ended at ${at} of ${header.size!} bytes while being written`);
            at += n;
            if (!sink.write(n === buffer.length ? buffer : buffer.subarray(0, n))) {
              sink.once('drain', () => pumpFrom(at));
              return;
            }
          }
          (sink as unknown as { end(): void }).end();
        } catch (error) {
          reject(error as Error);
        }
      };
      pumpFrom(0);
    });
  }
  tar.finalize();
}

function headerOf(member: Member): Header {
  const name = member.path.slice(1);
  const st = member.stat;
  const base = {
    name,
    mode: st === undefined ? 0o644 : st.mode & 0o7777,
    uid: st?.uid ?? 0,
    gid: st?.gid ?? 0,
    mtime: new Date(st === undefined ? 0 : Number(st.mtimeNs / 1_000_000n)),
    size: 0,
  };
  switch (member.kind) {
    case 'directory':
      return { ...base, type: 'directory' } as Header;
    case 'symlink':
      return { ...base, mode: 0o777, type: 'symlink', linkname: (member.node as { target: string }).target } as Header;
    case 'link':
      return { ...base, type: 'link', linkname: member.linkTo!.slice(1) } as Header;
    case 'marker':
      return { ...base, type: 'file' } as Header;
    case 'file':
      return { ...base, type: 'file', size: (member.node as FileNode).size } as Header;
  }
}

/** The members for a node at `path`; a file already written under another name becomes a hard link to it. */
function memberOf(path: string, node: Node, written: Map<bigint, string>): Member | undefined {
  const stat = node.stat();
  switch (node.type) {
    case 'directory':
      return { path, kind: 'directory', stat, node };
    case 'symlink':
      return { path, kind: 'symlink', stat, node };
    case 'file': {
      const first = stat.nlink > 1 ? written.get(node.ino) : undefined;
      if (first !== undefined) return { path, kind: 'link', stat, linkTo: first };
      if (stat.nlink > 1) written.set(node.ino, path);
      return { path, kind: 'file', stat, node };
    }
    default:
      return undefined; // Devices are never part of a root's files.
  }
}

/**
 * A sealed overlay's own changes as members, in `changes()` order (a
 * directory before its contents). A directory whose upper holds the opaque
 * marker gets `.wh..wh..opq` right after it, and the deletions under it
 * that the marker already says are left out.
 */
function* overlayMembers(overlay: Overlay): Generator<Member> {
  const written = new Map<bigint, string>();
  const opaque = new Set<string>();
  for (const change of overlay.changes()) {
    const parent = change.path.slice(0, change.path.lastIndexOf('/'));
    if (change.kind === 'deleted') {
      if (!opaque.has(parent)) yield { path: `${parent}/${whiteoutPrefix}${change.path.slice(parent.length + 1)}`, kind: 'marker' };
      continue;
    }
    const member = memberOf(change.path, change.node!, written);
    if (member === undefined) continue;
    yield member;
    if (change.kind === 'changed' && change.type === 'directory' && upperAt(overlay.upperRoot, change.path)?.lookup(opaqueMarker) !== undefined) {
      opaque.add(change.path);
      yield { path: `${change.path}/${opaqueMarker}`, kind: 'marker', ...(member.stat !== undefined && { stat: member.stat }) };
    }
  }
}

/** The upper directory at `path` (raw: its `.wh.` entries are visible), if the upper has one. */
function upperAt(root: DirNode, path: string): DirNode | undefined {
  let node: Node | undefined = root;
  for (const name of path.split('/')) {
    if (name === '') continue;
    if (node?.type !== 'directory') return undefined;
    node = node.lookup(name);
  }
  return node?.type === 'directory' ? node : undefined;
}

/** Every entry of a tree as members, depth first, names sorted, a directory before its contents. */
function* treeMembers(root: DirNode): Generator<Member> {
  const written = new Map<bigint, string>();
  const stack: Array<[DirNode, string]> = [[root, '']];
  while (stack.length > 0) {
    const [dir, path] = stack.pop()!;
    const names: string[] = [];
    dir.readdir(firstEntryCookie, (entry) => {
      names.push(entry.name);
      return true;
    });
    names.sort();
    const subdirs: Array<[DirNode, string]> = [];
    for (const name of names) {
      const node = dir.lookup(name);
      if (node === undefined) continue;
      const member = memberOf(`${path}/${name}`, node, written);
      if (member === undefined) continue;
      yield member;
      if (node.type === 'directory') subdirs.push([node, member.path]);
    }
    // Depth first: a directory's subtree right after its own entries, in name order.
    for (const sub of subdirs.reverse()) stack.push(sub);
  }
}
