import { ErrorCode, StrataError } from '../../errors.js';
import type { BackendManifest } from '../manifest.js';
import { checkIdentityDrive, guestBootWords } from './guest-args.js';

/** Host-side inputs of {@link renderFirecrackerConfig}: image paths and VM size, never from the manifest. */
export interface FirecrackerConfigOptions {
  /** Uncompressed kernel (`vmlinux`). */
  readonly kernel: string;
  /** The guest init's initramfs; with it the rootfs drive is not the kernel's root device (init mounts it). */
  readonly initrd?: string;
  /** The ext4 image of the image's layers plus the snapshot's deltas; attached read-only. */
  readonly rootfsImage: string;
  /** A writable ext4 image for an `overlay` root's upper; without it the upper is a tmpfs in the guest. */
  readonly upperImage?: string;
  /** A small read-only image holding the identity files. Needed when the manifest has identity mounts. */
  readonly identityImage?: string;
  /** 1, or an even number up to 32 (Firecracker's rule). */
  readonly vcpus: number;
  readonly memMib: number;
  /** A vsock device: guest CID (≥ 3) and the host's Unix socket. */
  readonly vsock?: { readonly cid: number; readonly udsPath: string };
  /** Kernel arguments before strata's own words. Default `console=ttyS0 reboot=k panic=1 pci=off quiet`. */
  readonly bootArgs?: string;
}

/** Firecracker's full VM config file (`--config-file`), as its API spec's `FullVmConfiguration` defines it. */
export type FirecrackerConfig = Record<string, unknown>;

/**
 * Render a manifest as a Firecracker VM config file (`firecracker
 * --no-api --config-file`): `boot-source`, `drives`, `machine-config` and
 * `vsock`. Pure: it reads nothing and runs nothing.
 *
 * - Drives: `rootfs` (read-only in every root mode; `overlay` stacks the
 *   `upper` drive or a guest tmpfs on it, `tmpfs` copies it into a guest
 *   tmpfs), `upper` (read-write) and `identity` (read-only) when given.
 * - Boot args: `bootArgs`, then the guest init's words (root mode, tmpfs
 *   mounts, identity target; see {@link guestBootWords}).
 * - Firecracker has no shared-directory device, so bind, overlay and
 *   volume mounts cannot be rendered here.
 *
 * Errors, in order: ERR_INVALID_OPTION for a bind, overlay or volume mount
 * (naming it), an identity mount without `identityImage`, `vcpus` not 1 or
 * even in 1..32, `memMib` not a positive integer, a vsock CID below 3, or
 * a mount target that cannot go on the kernel command line.
 *
 * See https://github.com/firecracker-microvm/firecracker/blob/main/src/firecracker/swagger/firecracker.yaml
 */
export function renderFirecrackerConfig(manifest: BackendManifest, options: FirecrackerConfigOptions): FirecrackerConfig {
  const shared = manifest.mounts.find((m) => m.type === 'bind' || m.type === 'overlay' || m.type === 'volume');
  if (shared !== undefined) throw new StrataError(ErrorCode.invalidOption, `${shared.type} mount at '${shared.target}': Firecracker has no shared-directory device (use qemu, or bake the files into the rootfs)`);
  checkIdentityDrive(manifest, options.identityImage);
  const { vcpus, memMib } = options;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 32 || (vcpus > 1 && vcpus % 2 !== 0)) throw new StrataError(ErrorCode.invalidOption, `vcpus must be 1 or an even number up to 32, got ${vcpus}`);
  if (!Number.isSafeInteger(memMib) || memMib < 1) throw new StrataError(ErrorCode.invalidOption, `memMib must be a positive integer, got ${memMib}`);
  if (options.vsock !== undefined && (!Number.isInteger(options.vsock.cid) || options.vsock.cid < 3)) throw new StrataError(ErrorCode.invalidOption, `vsock cid must be an integer ≥ 3, got ${options.vsock.cid}`);

  const bootArgs = [options.bootArgs ?? 'console=ttyS0 reboot=k panic=1 pci=off quiet', ...guestBootWords(manifest, [])].join(' ');
  const drives: Record<string, unknown>[] = [{ drive_id: 'rootfs', path_on_host: options.rootfsImage, is_root_device: options.initrd === undefined, is_read_only: true }];
  if (manifest.root.mode === 'overlay' && options.upperImage !== undefined) drives.push({ drive_id: 'upper', path_on_host: options.upperImage, is_root_device: false, is_read_only: false });
  if (options.identityImage !== undefined) drives.push({ drive_id: 'identity', path_on_host: options.identityImage, is_root_device: false, is_read_only: true });

  return {
    'boot-source': {
      kernel_image_path: options.kernel,
      ...(options.initrd !== undefined && { initrd_path: options.initrd }),
      boot_args: options.initrd === undefined ? `${bootArgs} root=/dev/vda ro` : bootArgs,
    },
    drives,
    'machine-config': { vcpu_count: vcpus, mem_size_mib: memMib, smt: false },
    ...(options.vsock !== undefined && { vsock: { guest_cid: options.vsock.cid, uds_path: options.vsock.udsPath } }),
  };
}
