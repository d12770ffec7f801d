import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ImageStore, Sandbox, SnapshotStore } from '../../src/index.js';
import { tempDir } from '../support/layer-trees.js';

/** The README's Snapshots example, step by step, over the example image, in a store of its own. */
describe('the README snapshots example', () => {
  it('commits an init step, restores it, and exports it', async () => {
    const work = tempDir('strata-readme-snap-');
    const store = await ImageStore.open(join(work, 'store'));
    const image = `oci:${fileURLToPath(new URL('../../examples/hello-image', import.meta.url))}`;

    const init = await Sandbox.create({ image, store });
    await init.exec(['fsbox', 'write', '/etc/state', 'ready']);
    const { digest, manifest, pauseMs } = await init.commit({ labels: { golden: 'yes' } });
    expect(manifest.labels).toEqual({ golden: 'yes' });
    expect(pauseMs).toBeLessThan(1_000);
    const copy = await Sandbox.create({ from: digest, store });
    const { stdout } = await copy.exec(['fsbox', 'cat', '/etc/state']);
    expect(new TextDecoder().decode(stdout)).toBe('ready');
    const snapshots = new SnapshotStore(store);
    expect((await SnapshotStore.open(join(work, 'store'))).images.root).toBe(store.root);
    await snapshots.export(digest, join(work, 'golden-layout'), 'v1');
    expect(existsSync(join(work, 'golden-layout', 'index.json'))).toBe(true);
  });
});
