import { describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/sandbox/index.js';
import { SnapshotStore } from '../../src/snapshot/index.js';
import { viewTree } from '../support/layer-trees.js';
import { change, storeWithImage } from './support.js';

describe('commit → restore gives the same tree', () => {
  it('overlay root: deletes, renames, hard links, symlinks, modes, opaque dirs and a times-only change', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
    await change(sandbox);
    const before = viewTree(sandbox.namespace.root);
    const { digest, manifest } = await sandbox.commit({ labels: { step: 'init' } });
    expect(manifest).toMatchObject({ root: { mode: 'overlay' }, labels: { step: 'init' }, class: 'wasm' });
    expect(manifest.parent).toBeUndefined();
    expect(manifest.delta).toHaveLength(1);
    expect(manifest.image?.reference).toBe(reference);

    const restored = await Sandbox.create({ from: digest, store: images, dev: false });
    expect(viewTree(restored.namespace.root)).toEqual(before);
    expect(restored.rootMode).toBe('overlay');
    // The committed sandbox goes on: its state is unchanged, and its writes stay its own.
    expect(viewTree(sandbox.namespace.root)).toEqual(before);
    await sandbox.fs.writeFile('/after', 'x');
    expect(restored.namespace.root.lookup('after')).toBeUndefined();
  });

  it('overlay root with uncompressed delta layers (compression: none)', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
    await change(sandbox);
    const { digest, manifest } = await sandbox.commit({ compression: 'none' });
    expect(manifest.delta[0]).toMatchObject({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: manifest.delta[0]!.diffID });
    const restored = await Sandbox.create({ from: digest, store: images, dev: false });
    expect(viewTree(restored.namespace.root)).toEqual(viewTree(sandbox.namespace.root));
  });

  it('readonly root: an empty delta', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, root: 'readonly', dev: false });
    const { digest, manifest } = await sandbox.commit();
    expect(manifest.delta).toEqual([]);
    expect(manifest.root.mode).toBe('readonly');
    const restored = await Sandbox.create({ from: digest, store: images, dev: false });
    expect(restored.rootMode).toBe('readonly');
    expect(viewTree(restored.namespace.root)).toEqual(viewTree(sandbox.namespace.root));
  });

  it('tmpfs root: its whole tree is one layer, and the manifest names no image', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, root: 'tmpfs', dev: false });
    await change(sandbox);
    const before = viewTree(sandbox.namespace.root);
    const first = await sandbox.commit();
    expect(first.manifest.image).toBeUndefined();
    expect(first.manifest.delta).toHaveLength(1);
    const restored = await Sandbox.create({ from: first.digest, store: images, dev: false });
    expect(restored.rootMode).toBe('tmpfs');
    expect(viewTree(restored.namespace.root)).toEqual(before);

    // Later commits of the same sandbox are deltas over the first.
    await sandbox.fs.rm('/etc/motd');
    const second = await sandbox.commit();
    expect(second.manifest.parent).toBe(first.digest);
    const again = await Sandbox.create({ from: second.digest, store: images, dev: false });
    expect(viewTree(again.namespace.root)).toEqual(viewTree(sandbox.namespace.root));
    expect(again.namespace.root.lookup('etc')?.type === 'directory' && (again.namespace.root.lookup('etc') as { lookup(n: string): unknown }).lookup('motd')).toBeUndefined();
  });

  it('a restored snapshot can be restored as another root mode', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
    await change(sandbox);
    const { digest } = await sandbox.commit();
    for (const root of ['readonly', 'tmpfs', 'overlay'] as const) {
      const restored = await Sandbox.create({ from: digest, store: images, dev: false, root });
      expect(restored.rootMode).toBe(root);
      expect(viewTree(restored.namespace.root)).toEqual(viewTree(sandbox.namespace.root));
    }
  });
});

describe('chains', () => {
  it('a snapshot of a restored snapshot has it as parent, and restores the whole chain', async () => {
    const { images, reference } = await storeWithImage();
    const first = await Sandbox.create({ image: reference, store: images, dev: false });
    await first.fs.writeFile('/one', '1');
    const a = await first.commit();
    const second = await Sandbox.create({ from: a.digest, store: images, dev: false });
    await second.fs.writeFile('/two', '2');
    await second.fs.rm('/one');
    await second.fs.rm('/etc/motd');
    const b = await second.commit();
    expect(b.manifest.parent).toBe(a.digest);
    expect(b.manifest.image).toEqual(a.manifest.image);
    await second.fs.writeFile('/three', '3');
    const c = await second.commit();
    expect(c.manifest.parent).toBe(b.digest);
    expect(c.manifest.delta).toHaveLength(1);

    const restored = await Sandbox.create({ from: c.digest, store: images, dev: false });
    expect(viewTree(restored.namespace.root)).toEqual(viewTree(second.namespace.root));
    const snapshots = new SnapshotStore(images);
    const { layers } = await snapshots.restore(c.digest);
    expect(layers).toHaveLength(2 + 3); // two image layers, one delta per snapshot
  });

  it('a fork commits its parent\'s uncommitted layers too, one layer each', async () => {
    const { images, reference } = await storeWithImage();
    const parent = await Sandbox.create({ image: reference, store: images, dev: false });
    await parent.fs.writeFile('/p', 'parent');
    const child = await parent.fork();
    await child.fs.writeFile('/c', 'child');
    const { digest, manifest } = await child.commit();
    expect(manifest.delta).toHaveLength(2);
    const restored = await Sandbox.create({ from: digest, store: images, dev: false });
    expect(viewTree(restored.namespace.root)).toEqual(viewTree(child.namespace.root));
  });
});
