/**
 * `strata run --class qemu` through the built CLI, as users run it (npm
 * test builds dist and the bundle first): the host config pins qemu's
 * three assets with `strata host pin`, then the busybox image runs in a
 * microVM with the host's stdio.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrovmAssetsFile } from '../../src/backends/index.js';
import { busyboxLayout } from '../support/busybox-image.js';
import { expectNoStrayQemu, haveMicrovmTools, microvmAssetsDir } from './microvm-host.js';

const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));

describe.skipIf(!haveMicrovmTools())('strata run --class qemu', () => {
  const home = mkdtempSync(join(tmpdir(), 'strata-cli-qemu-'));
  const strata = (args: string[], input = '') => {
    const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', timeout: 240_000, env: { ...process.env, STRATA_HOME: home, STRATA_HOST_CONFIG: '' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  let image: string;

  beforeAll(() => {
    const dir = microvmAssetsDir();
    const assets = JSON.parse(readFileSync(join(dir, 'assets.json'), 'utf8')) as MicrovmAssetsFile;
    const version = `${assets.kernelPackage}_${assets.kernelVersion}`;
    expect(strata(['host', 'pin', 'qemu', '--asset', 'qemu', '--path', '/usr/bin/qemu-system-x86_64', '--config', '{"accel":"tcg"}']).status).toBe(0);
    expect(strata(['host', 'pin', 'qemu', '--asset', 'kernel', '--path', assets.kernel.path, '--version', version]).status).toBe(0);
    expect(strata(['host', 'pin', 'qemu', '--asset', 'initramfs', '--path', assets.initrd.path, '--version', `${version}+init.${assets.initHash}`]).status).toBe(0);
    image = busyboxLayout().reference;
  }, 600_000);
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    expectNoStrayQemu();
  });

  it('runs the image in a microVM: exit code, stdin, stdout and stderr apart, env, read-only root, tmpfs', () => {
    const r = strata(['run', '-q', '--class', 'qemu', '--read-only', '--tmpfs', '/scratch:size=65536', '-e', 'WHO=strata', image, '--', '/bin/sh', '-c', 'cat; echo "hi $WHO"; echo x > /scratch/f && cat /scratch/f; echo y > /etc/motd || exit 9'], 'in;');
    expect(r).toMatchObject({ status: 9, stdout: 'in;hi strata\nx\n', stderr: expect.stringMatching(/Read-only file system/) });
  }, 240_000);

  it('a timeout kills the VM and exits 124', () => {
    expect(strata(['run', '-q', '--class', 'qemu', '--timeout', '6000', image, '--', '/bin/sleep', '600']).status).toBe(124);
  }, 240_000);
});
