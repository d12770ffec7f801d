import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/sandbox/index.js';
import { markVerified, verifiedBefore } from '../../src/snapshot/verified.js';
import { storeWithImage } from './support.js';

describe('delta blobs verified once (restores skip an unchanged one)', () => {
  it('a committed blob is remembered; a rewrite of the same bytes, or another diffID, is not', async () => {
    const setup = await storeWithImage();
    const sandbox = await Sandbox.create({ image: setup.reference, store: setup.images, dev: false });
    await sandbox.fs.writeFile('/etc/motd', 'changed\n');
    const { manifest, digest } = await sandbox.commit();
    const layer = manifest.delta[0]!;
    expect(await verifiedBefore(setup.images, layer)).toBe(true);
    expect(await verifiedBefore(setup.images, { ...layer, diffID: `sha256:${'0'.repeat(64)}` })).toBe(false);
    const path = setup.images.blobs.path(layer.digest);
    writeFileSync(path, readFileSync(path)); // the same bytes, written again: its file changed
    expect(await verifiedBefore(setup.images, layer)).toBe(false);
    // A restore reads it whole again, finds it intact, and remembers it.
    const restored = await Sandbox.create({ from: digest, store: setup.images, dev: false });
    expect(new TextDecoder().decode(await restored.fs.readFile('/etc/motd'))).toBe('changed\n');
    expect(await verifiedBefore(setup.images, layer)).toBe(true);
    await markVerified(setup.images, { ...layer, digest: `sha256:${'f'.repeat(64)}` }); // a blob that is not there: nothing remembered
    expect(await verifiedBefore(setup.images, { ...layer, digest: `sha256:${'f'.repeat(64)}` })).toBe(false);
  });
});
