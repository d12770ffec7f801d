import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';
import { hostArch } from '../assets.js';
import { probeAsset } from '../host-config.js';
import type { ClassConfig } from '../registry.js';
import type { QemuSettings } from './qemu-backend.js';

/** What `runtime/microvm/build-assets.sh` writes as `assets.json` beside the kernel and initramfs. */
export interface MicrovmAssetsFile {
  readonly kernelPackage: string;
  readonly kernelVersion: string;
  readonly initHash: string;
  readonly kernel: { readonly path: string; readonly sha256: string };
  readonly initrd: { readonly path: string; readonly sha256: string };
  readonly modules: string;
}

/**
 * The `qemu` class's config from a directory `build-assets.sh` made: the
 * assets `qemu` (the binary at `qemuPath`, hashed now), `kernel`
 * (`vmlinux`, versioned by its Debian package) and `initramfs` (versioned
 * by the package and the init's hash), pinned at the sha256s the script
 * recorded (verified against the files before every use), and `settings`.
 *
 * Errors: ERR_ASSET_MISSING (no readable `assets.json`, or the qemu
 * binary cannot be read).
 */
export async function qemuClassConfig(assetsDir: string, options: { readonly qemuPath?: string; readonly settings?: QemuSettings } = {}): Promise<ClassConfig> {
  let file: MicrovmAssetsFile;
  try {
    file = JSON.parse(await readFile(join(assetsDir, 'assets.json'), 'utf8')) as MicrovmAssetsFile;
  } catch (error) {
    throw new StrataError(ErrorCode.assetMissing, `no microVM assets in '${assetsDir}' (run runtime/microvm/build-assets.sh): ${(error as Error).message}`, { cause: error });
  }
  const arch = hostArch();
  const qemu = await probeAsset('qemu', options.qemuPath ?? '/usr/bin/qemu-system-x86_64');
  return {
    assets: [
      qemu,
      { name: 'kernel', version: `${file.kernelPackage}_${file.kernelVersion}`, arch: { [arch]: file.kernel } },
      { name: 'initramfs', version: `${file.kernelPackage}_${file.kernelVersion}+init.${file.initHash}`, arch: { [arch]: { path: file.initrd.path, sha256: file.initrd.sha256 } } },
    ],
    ...(options.settings !== undefined && { config: { ...options.settings } }),
  };
}
