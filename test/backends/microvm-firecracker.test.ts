/**
 * The firecracker class on a host without Firecracker: three manifests
 * (every root mode, tmpfs and identity mounts) over the busybox image are
 * prepared for real (ext4 images, identity drive) and their VM config
 * files validated against Firecracker's API spec; running refuses clearly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { selectBackend, type FirecrackerPrepared, type ManifestRootMode } from '../../src/backends/index.js';
import { busyboxImage } from '../support/busybox-image.js';
import { codeOf } from '../support/error-code.js';
import { firecrackerConfigCheck, specPresent } from '../support/published-specs.js';
import { haveMicrovmTools, qemuConfig } from './microvm-host.js';

const present = specPresent('firecracker/firecracker.yaml');

describe.skipIf(!present || !haveMicrovmTools())('firecracker class: VM configs rendered from manifests, validated; no binary, a clear error', () => {
  it.each([
    ['readonly', [{ type: 'tmpfs', target: '/scratch', size: 1 << 20, inodes: 64 }]],
    ['overlay', [{ type: 'identity', target: '/run/strata' }]],
    ['tmpfs', [{ type: 'tmpfs', target: '/tmp' }, { type: 'identity', target: '/run/strata' }]],
  ] as const)('%s root', async (mode, mounts) => {
    const qemu = await qemuConfig();
    const backend = selectBackend('firecracker', { classes: { firecracker: { assets: qemu.assets.filter((a) => a.name !== 'qemu'), config: { vcpus: 2, memMib: 128 } } } });
    const { store, image } = await busyboxImage();
    const manifest = { class: 'firecracker' as const, image, root: { mode: mode as ManifestRootMode }, mounts, process: { args: ['/bin/true'], env: [], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] };
    const prepared = (await backend.prepare(manifest, { store, identity: [{ type: 'identity', target: '/run/strata', files: { token: 't' } }] })) as FirecrackerPrepared;
    try {
      const config = JSON.parse(readFileSync(prepared.configPath, 'utf8')) as { drives: { path_on_host: string; drive_id: string }[]; 'boot-source': { boot_args: string } };
      expect(firecrackerConfigCheck()(config)).toEqual([]);
      expect(config.drives.map((d) => d.drive_id)).toEqual(['rootfs', ...(mode === 'overlay' ? ['upper'] : []), 'identity']);
      for (const d of config.drives) expect(existsSync(d.path_on_host)).toBe(true);
      expect(config['boot-source'].boot_args).toContain(`strata.root=${mode}`);
      expect(await codeOf(backend.start(prepared))).toBe('ERR_BACKEND_UNAVAILABLE');
      await expect(backend.start(prepared)).rejects.toThrow(/no 'firecracker' binary is configured/);
    } finally {
      await backend.cleanup(prepared);
    }
    expect(existsSync(prepared.dir)).toBe(false);
  });
});
