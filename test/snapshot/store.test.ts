import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/sandbox/index.js';
import { canonicalManifestBytes, SnapshotStore, type SnapshotManifest } from '../../src/snapshot/index.js';
import { codeOf } from '../support/error-code.js';
import { viewTree } from '../support/layer-trees.js';
import { storeWithImage } from './support.js';
import { StrataError } from '../../src/errors.js';

async function committed() {
  const setup = await storeWithImage();
  const sandbox = await Sandbox.create({ image: setup.reference, store: setup.images, dev: false });
  await sandbox.fs.writeFile('/etc/motd', 'changed\n');
  await sandbox.fs.rm('/etc/hosts');
  const snapshot = await sandbox.commit();
  return { ...setup, sandbox, snapshots: new SnapshotStore(setup.images), ...snapshot };
}

async function messageOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    if (error instanceof StrataError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'ok';
}

describe('restore refuses tampered input, naming what differs', () => {
  it('a changed byte of a delta layer: ERR_DIGEST_MISMATCH, before anything runs', async () => {
    const { images, snapshots, digest, manifest } = await committed();
    const path = images.blobs.path(manifest.delta[0]!.digest);
    const bytes = readFileSync(path);
    bytes[bytes.length - 10]! ^= 0xff;
    writeFileSync(path, bytes);
    const message = await messageOf(snapshots.restore(digest));
    expect(message).toMatch(/^ERR_DIGEST_MISMATCH: /);
    expect(message).toContain(manifest.delta[0]!.digest);
    expect(await codeOf(Sandbox.create({ from: digest, store: images }))).toBe('ERR_DIGEST_MISMATCH');
  });

  it('a changed diffID in the manifest: ERR_DIFFID_MISMATCH naming both', async () => {
    const { images, snapshots, manifest } = await committed();
    const diffID = `sha256:${'0'.repeat(64)}` as const;
    const forged: SnapshotManifest = { ...manifest, delta: [{ ...manifest.delta[0]!, diffID }] };
    const digest = await images.blobs.put(canonicalManifestBytes(forged));
    const message = await messageOf(snapshots.restore(digest));
    expect(message).toMatch(/^ERR_DIFFID_MISMATCH: /);
    expect(message).toContain(diffID);
    expect(message).toContain(manifest.delta[0]!.diffID);
  });

  it('a changed image diffID: ERR_DIFFID_MISMATCH', async () => {
    const { images, snapshots, manifest } = await committed();
    const forged: SnapshotManifest = { ...manifest, image: { ...manifest.image!, diffIDs: [`sha256:${'1'.repeat(64)}`, manifest.image!.diffIDs[1]!] } };
    const digest = await images.blobs.put(canonicalManifestBytes(forged));
    expect(await codeOf(snapshots.restore(digest))).toBe('ERR_DIFFID_MISMATCH');
  });

  it('a manifest that fails the schema: ERR_BAD_SNAPSHOT naming the field', async () => {
    const { images, snapshots, manifest } = await committed();
    const digest = await images.blobs.put(Buffer.from(JSON.stringify({ ...manifest, root: { mode: 'writable' } })));
    const message = await messageOf(snapshots.restore(digest));
    expect(message).toMatch(/^ERR_BAD_SNAPSHOT: .*\/root\/mode/);
  });

  it('a manifest of another version: ERR_SNAPSHOT_VERSION', async () => {
    const { images, snapshots, manifest } = await committed();
    const digest = await images.blobs.put(Buffer.from(JSON.stringify({ ...manifest, schemaVersion: 2 })));
    expect(await codeOf(snapshots.restore(digest))).toBe('ERR_SNAPSHOT_VERSION');
  });

  it('changed manifest bytes in the store: ERR_DIGEST_MISMATCH', async () => {
    const { images, snapshots, digest } = await committed();
    const path = images.blobs.path(digest);
    writeFileSync(path, readFileSync(path, 'utf8').replace('"overlay"', '"tmpfs"'));
    expect(await codeOf(snapshots.restore(digest))).toBe('ERR_DIGEST_MISMATCH');
  });

  it('a chain whose snapshots name different images: ERR_BAD_SNAPSHOT, naming both', async () => {
    const { images, snapshots, digest, manifest } = await committed();
    const other: SnapshotManifest = { ...manifest, parent: digest, image: { ...manifest.image!, manifestDigest: `sha256:${'2'.repeat(64)}` }, delta: [] };
    const child = await images.blobs.put(canonicalManifestBytes(other));
    expect(await messageOf(snapshots.restore(child))).toMatch(/^ERR_BAD_SNAPSHOT: .*image/);
    // A grandchild over the same image as the first still meets the middle one's.
    const grandchild = await images.blobs.put(canonicalManifestBytes({ ...manifest, parent: child, delta: [] }));
    expect(await codeOf(snapshots.restore(grandchild))).toBe('ERR_BAD_SNAPSHOT');
  });

  it('an unknown snapshot: ERR_SNAPSHOT_NOT_FOUND', async () => {
    const { snapshots } = await committed();
    expect(await codeOf(snapshots.restore(`sha256:${'9'.repeat(64)}`))).toBe('ERR_SNAPSHOT_NOT_FOUND');
    expect(await codeOf(snapshots.restore('zz'))).toBe('ERR_SNAPSHOT_NOT_FOUND');
  });
});

describe('list, inspect, remove', () => {
  it('lists snapshots, inspects one by a digest prefix, and removes it', async () => {
    const { snapshots, digest, manifest } = await committed();
    expect((await snapshots.list()).map((s) => s.digest)).toEqual([digest]);
    expect(await snapshots.inspect(digest.slice(7, 19))).toEqual({ digest, manifest });
    await snapshots.remove(digest);
    expect(await snapshots.list()).toEqual([]);
    expect(await codeOf(snapshots.remove(digest))).toBe('ERR_SNAPSHOT_NOT_FOUND');
  });

  it('refuses to remove a snapshot while a child applies on top of it', async () => {
    const { images, snapshots, digest } = await committed();
    const child = await Sandbox.create({ from: digest, store: images, dev: false });
    await child.fs.writeFile('/child', 'c');
    const grandchild = await child.commit();
    const message = await messageOf(snapshots.remove(digest));
    expect(message).toMatch(/^ERR_SNAPSHOT_IN_USE: /);
    expect(message).toContain(grandchild.digest);
    await snapshots.remove(grandchild.digest);
    await snapshots.remove(digest);
  });
});

describe('garbage collection', () => {
  it('keeps what snapshots need, even after their image is removed, and drops orphans', async () => {
    const { images, snapshots, digest, manifest, reference, sandbox } = await committed();
    const orphan = await images.blobs.put(Buffer.from('nobody needs me'));
    await images.remove(reference);
    const first = await images.gc();
    expect(first.blobsRemoved).toBe(1);
    expect(await images.blobs.has(orphan)).toBe(false);
    for (const d of [digest, manifest.delta[0]!.digest, manifest.image!.manifestDigest, manifest.image!.configDigest]) expect(await images.blobs.has(d)).toBe(true);
    // Restorable from the store alone: the image's layers were kept although its record is gone.
    const { image, layers } = await snapshots.restore(digest);
    expect(image).toBeUndefined();
    for (const l of layers) l.close();
    const restored = await Sandbox.create({ from: digest, store: images, dev: false });
    expect(viewTree(restored.namespace.root)).toEqual(viewTree(sandbox.namespace.root));

    // Once the snapshot is removed, its blobs (and the image's, now unreferenced) go.
    await snapshots.remove(digest);
    const second = await images.gc();
    expect(second.blobsRemoved).toBe(1 + 1 + 1 + 1 + 2); // manifest, delta, image manifest, config, two layers
    expect(await images.blobs.list()).toEqual([]);
  });

  it("keeps the blobs a backend config names by descriptor (a runsc memory checkpoint), until the snapshot goes", async () => {
    const { images, snapshots, manifest } = await committed();
    const checkpoint = await images.blobs.put(Buffer.from('checkpoint image'));
    const loose = await images.blobs.put(Buffer.from('named without a media type'));
    const withBlob = await snapshots.adopt({ ...manifest, backend: { ...manifest.backend, config: { checkpoint: { mediaType: 'application/vnd.strata.runsc.checkpoint.v1.tar', digest: checkpoint, size: 16 }, note: { digest: loose } } } });
    await images.gc();
    expect(await images.blobs.has(checkpoint)).toBe(true);
    expect(await images.blobs.has(loose)).toBe(false); // not a descriptor: not kept
    await snapshots.remove(withBlob.digest);
    await images.gc();
    expect(await images.blobs.has(checkpoint)).toBe(false);
  });
});
