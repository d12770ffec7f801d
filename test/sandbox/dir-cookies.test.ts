import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { openImage, Sandbox } from '../../src/sandbox/index.js';
import { guestPath, text } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';

/**
 * wasi-libc's telldir returns a 32-bit long, so every readdir cookie a
 * directory hands out must fit: lower entries, an overlay's upper-only
 * entries and the namespace's synthetic mount names (/dev) alike. The
 * dir-seek guest seekdirs back to every position it told and rereads it.
 */
describe('readdir cookies in a guest', () => {
  it('seekdir returns to every position of a merged overlay root with /dev and mount points', async () => {
    const store = await ImageStore.open(tempDir('strata-cookies-'));
    const image = await openImage(`oci:${fileURLToPath(new URL('../../examples/hello-image', import.meta.url))}`, { store });
    const sandbox = await Sandbox.create({ image, mounts: [{ type: 'tmpfs', target: '/scratch' }] });
    for (let i = 0; i < 20; i++) await sandbox.fs.writeFile(`/upper-${i}`, 'x');
    await sandbox.fs.rm('/upper-3');
    const r = await sandbox.run(guestPath('dir-seek'), { args: ['/'] });
    // bin, etc, usr from the image; 19 upper files; dev and scratch as mount names; . and ..
    expect([r.exitCode, text(r.stdout)]).toEqual([0, 'ok 26\n']);
  });
});
