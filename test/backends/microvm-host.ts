/**
 * The microVM tests' host: the guest assets built (cached) by
 * runtime/microvm/build-assets.sh, the qemu class configured over them,
 * and the busybox image. Every VM a test starts is checked to be gone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { qemuClassConfig, type QemuSettings } from '../../src/backends/microvm/index.js';
import type { ClassConfig } from '../../src/backends/index.js';
import { busyboxTools } from '../support/busybox-image.js';
import { requireTool } from '../support/host-tool.js';

/** The host tools the microVM tests need (building the assets, the image, running the VM). */
export const microvmTools = ['qemu-system-x86_64', 'mke2fs', 'apt-get', 'apt-cache', 'dpkg-deb', 'xz', 'timeout', ...busyboxTools] as const;

/** Whether the tools are here (throws under CI=true when one is missing). */
export const haveMicrovmTools = (): boolean => requireTool(...microvmTools);

const script = fileURLToPath(new URL('../../runtime/microvm/build-assets.sh', import.meta.url));

let assetsDir: string | undefined;

/** Build (or find cached) the kernel and initramfs, once per test process: the directory holding them and assets.json. */
export function microvmAssetsDir(): string {
  assetsDir ??= execFileSync('sh', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 }).trim().split('\n').at(-1)!;
  return assetsDir;
}

/** The qemu class's config over the built assets (TCG unless told otherwise: the probe is tested on its own). */
export async function qemuConfig(settings: QemuSettings = { accel: 'auto' }): Promise<ClassConfig> {
  return qemuClassConfig(microvmAssetsDir(), { settings });
}

/** No qemu process of ours is left (pgrep looks at the whole host: only VMs whose argv names our tmp images). */
export function expectNoStrayQemu(): void {
  const found = spawnSync('pgrep', ['-f', 'qemu-system-x86_64 .*strata-vm-'], { encoding: 'utf8' });
  expect(found.stdout.trim()).toBe('');
}
