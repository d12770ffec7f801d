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

/**
 * No qemu process of ours is left: none among this process's descendants,
 * and none orphaned (a CLI child's VM outliving it is reparented to PID 1).
 * Other test processes on the host may run their own VMs meanwhile.
 */
export function expectNoStrayQemu(): void {
  const table = spawnSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).stdout.trim().split('\n');
  const rows = table.map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line)).filter((m) => m !== null).map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  const ours = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) if (ours.has(r.ppid) && !ours.has(r.pid)) ours.add(r.pid), (grew = true);
  }
  expect(rows.filter((r) => (ours.has(r.pid) || r.ppid === 1) && r.args.includes('qemu-system')).map((r) => `${r.pid} ${r.args.slice(0, 80)}`)).toEqual([]);
}
