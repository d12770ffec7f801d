import { vi } from 'vitest';
import { hostArch, QemuBackend, selectBackend } from '../../src/backends/index.js';
import { busyboxImage, busyboxMotd } from '../support/busybox-image.js';
import { backendConformance } from './conformance.js';
import { haveMicrovmTools, qemuConfig } from './microvm-host.js';

// The suite runs several processes per test, each one boot (~3 s under TCG, more on a loaded host).
vi.setConfig({ testTimeout: 240_000 });

if (haveMicrovmTools()) {
  backendConformance('qemu', async () => {
    const config = await qemuConfig();
    const { store, image } = await busyboxImage();
    const kernel = config.assets.find((a) => a.name === 'kernel')!;
    const tampered = { ...kernel, arch: { [hostArch()]: { ...kernel.arch[hostArch()]!, sha256: 'a'.repeat(64) } } };
    return {
      backend: selectBackend('qemu', { classes: { qemu: config } }),
      tampered: new QemuBackend({ ...config, assets: config.assets.map((a) => (a.name === 'kernel' ? tampered : a)) }),
      store,
      motd: busyboxMotd,
      manifest: (mode, mounts = []) => ({ class: 'qemu', image, root: { mode, limits: { maxBytes: 32 << 20, maxInodes: 4096 } }, mounts, process: { args: ['/bin/sh'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] }),
      cat: (path) => ['/bin/cat', path],
      write: (path, text) => ['/bin/sh', '-c', 'printf %s "$1" > "$2"', 'sh', text, path],
    };
  });
}
