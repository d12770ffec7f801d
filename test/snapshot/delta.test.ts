import { gunzipSync } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Sandbox } from '../../src/sandbox/index.js';
import { writeDeltaLayer } from '../../src/snapshot/index.js';
import { Overlay, Tmpfs, Namespace } from '../../src/vfs/index.js';
import { storeWithImage } from './support.js';
import { tempStore } from '../support/layer-trees.js';
import { readFileSync } from 'node:fs';
import type { BlobStore } from '../../src/oci/index.js';

/** The members of a stored gzipped tar layer, in order: name → header and text. */
async function members(blobs: BlobStore, digest: string): Promise<Array<{ header: Header; text: string }>> {
  const tar = gunzipSync(readFileSync(blobs.path(digest as `sha256:${string}`)));
  const out: Array<{ header: Header; text: string }> = [];
  const x = extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.push({ header, text: Buffer.concat(chunks).toString('utf8') });
        next();
      });
    });
    x.on('finish', resolve);
    x.on('error', reject);
  });
  x.end(tar);
  await done;
  return out;
}

describe('delta layers', () => {
  it('write whiteouts, an opaque marker, hard links, symlinks, modes and times-only changes as an OCI changeset', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
    await sandbox.fs.rm('/etc/hosts');
    await sandbox.fs.rm('/var/cache', { recursive: true });
    await sandbox.fs.mkdir('/var/cache');
    await sandbox.fs.writeFile('/var/cache/fresh', 'fresh', { mode: 0o640 });
    await sandbox.fs.link('/var/cache/fresh', '/var/cache/again');
    await sandbox.fs.symlink('fresh', '/var/cache/sym');
    await sandbox.fs.utimes('/var/lib/b', 1_600_000_000, 1_600_000_000);
    const { manifest } = await sandbox.commit();
    const layer = manifest.delta[0]!;
    const got = await members(images.blobs, layer.digest);
    const byName = new Map(got.map((m) => [m.header.name.replace(/\/$/, ''), m]));
    expect([...byName.keys()].sort()).toEqual(
      ['etc', 'etc/.wh.hosts', 'var', 'var/cache', 'var/cache/.wh..wh..opq', 'var/cache/again', 'var/cache/fresh', 'var/cache/sym', 'var/lib', 'var/lib/b'].sort(),
    );
    // Two names of one new file: the first in tar order holds the bytes, the second links to it.
    expect(byName.get('var/cache/again')).toMatchObject({ header: { type: 'file', mode: 0o640 }, text: 'fresh' });
    expect(byName.get('var/cache/fresh')!.header).toMatchObject({ type: 'link', linkname: 'var/cache/again' });
    expect(byName.get('var/cache/sym')!.header).toMatchObject({ type: 'symlink', linkname: 'fresh' });
    // The times-only change is written whole, with its new time.
    expect(byName.get('var/lib/b')).toMatchObject({ text: 'b' });
    expect(byName.get('var/lib/b')!.header.mtime.getTime()).toBe(1_600_000_000_000);
    // A directory comes before its contents, the opaque marker right after its directory.
    const names = got.map((m) => m.header.name.replace(/\/$/, ''));
    expect(names.indexOf('var/cache/.wh..wh..opq')).toBe(names.indexOf('var/cache') + 1);
    // The digest is the blob's, the diffID the uncompressed tar's.
    const blob = readFileSync(images.blobs.path(layer.digest));
    expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(layer.digest);
    expect(`sha256:${createHash('sha256').update(gunzipSync(blob)).digest('hex')}`).toBe(layer.diffID);
    expect(layer.size).toBe(blob.length);
  });

  it('of a frozen tree hold all of it, and a file of many chunks is streamed whole', async () => {
    const blobs = await tempStore();
    const fs = new Tmpfs({ dev: 1n });
    const ns = new Namespace(fs.root);
    ns.mkdir(fs.root, '/d');
    const big = new Uint8Array(3 * (1 << 20) + 123).map((_, i) => (i * 31) & 0xff);
    const file = Namespace.asFile(ns.open(fs.root, '/d/big', { follow: true, create: true }).node, 'open');
    file.write(big, 0, big.length, 0);
    ns.symlink('/d/big', fs.root, '/abs');
    fs.freeze();
    const layer = await writeDeltaLayer(blobs, fs.root);
    const got = await members(blobs, layer.digest);
    expect(got.map((m) => m.header.name.replace(/\/$/, ''))).toEqual(['abs', 'd', 'd/big']);
    expect(got[2]!.header.size).toBe(big.length);
    const tar = gunzipSync(readFileSync(blobs.path(layer.digest)));
    expect(tar.includes(Buffer.from(big.subarray(2 << 20, (2 << 20) + 4096)))).toBe(true);
  });

  it('of a sealed overlay with no change is an empty tar', async () => {
    const blobs = await tempStore();
    const lower = new Tmpfs({ dev: 1n });
    const overlay = new Overlay({ lower: lower.root, dev: 2n });
    overlay.seal();
    const layer = await writeDeltaLayer(blobs, overlay);
    expect(await members(blobs, layer.digest)).toEqual([]);
  });
});
