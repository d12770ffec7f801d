import { ErrorCode, StrataError } from '../../errors.js';
import type { BackendManifest } from '../manifest.js';
import { checkIdentityDrive, guestBootWords } from './guest-args.js';

/** Host-side inputs of {@link renderQemuArgs}. */
export interface QemuArgsOptions {
  /** Uncompressed kernel (`vmlinux`: about 2.5× faster to boot under TCG than `vmlinuz`). */
  readonly kernel: string;
  readonly initrd?: string;
  /** The ext4 rootfs image; attached read-only. */
  readonly rootfsImage: string;
  /** A writable ext4 image for an `overlay` root's upper; else a guest tmpfs. */
  readonly upperImage?: string;
  /** The identity drive (read-only); needed when the manifest has identity mounts (unless `jobImage` carries them). */
  readonly identityImage?: string;
  /** The guest init's job drive (read-only: a tar of the process, its stdin and identity files; runtime/microvm/README.md). */
  readonly jobImage?: string;
  /** A writable raw drive for the sandbox's tmpfs state between processes: a tar of a `tmpfs` root and the tmpfs mounts. */
  readonly stateImage?: string;
  /** A writable raw drive a checkpoint's export is written to: a tar of a `tmpfs` root, or an overlay's upper. */
  readonly exportImage?: string;
  /**
   * Unix sockets (listening on the host) for the virtio-console ports
   * `stdout`, `stderr` and `control`: the process's output, kept apart
   * from each other and from the kernel's messages on ttyS0.
   */
  readonly ports?: { readonly stdout: string; readonly stderr: string; readonly control: string };
  readonly memMib: number;
  readonly vcpus?: number;
  /** `tcg` (software; what works on these hosts) or `kvm`, as probed by the backend. */
  readonly accel: 'tcg' | 'kvm';
  /**
   * The TSC frequency in kHz (`tscKhzFromCpuinfo`). Required: without
   * `tsc_early_khz=… tsc=reliable` a boot under CPU load can hang forever
   * ("Unable to calibrate against PIT").
   */
  readonly tscKhz: number;
  /** Host directories of bind, overlay and volume mounts, by target, shared over 9p. */
  readonly shares?: Readonly<Record<string, string>>;
  /** Kernel arguments before the required ones. Default `console=ttyS0 quiet panic=-1`. */
  readonly bootArgs?: string;
}

/** QEMU's option values separate fields with `,`; a literal comma is doubled. */
function qemuValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * The argv of `qemu-system-x86_64 -M microvm` (without the binary) for a
 * manifest, as HOSTS.md's verified command has it. Pure. The caller must
 * still wrap the VM in a timeout that always ends it.
 *
 * - `-nographic -no-reboot`, the console on ttyS0; `panic=-1` so a guest
 *   panic ends qemu at once.
 * - Drives on virtio-mmio, each with its id as its virtio serial (how the
 *   guest tells them apart): `rootfs` read-only, then `upper` (rw) for an
 *   overlay root if given, `identity` (ro), `job` (ro), `state` and
 *   `export` (rw).
 * - With `ports`, a virtio-serial device whose ports `stdout`, `stderr`
 *   and `control` connect to the host's Unix sockets.
 * - Bind, overlay and volume mounts as 9p shares (`security_model=none`,
 *   `readonly=on` for read-only binds; an overlay mount's share is always
 *   read-only, the guest stacks its own upper).
 * - `isa-debug-exit` at 0xf4: the guest init reports its exit code N and
 *   qemu exits with `(N << 1) | 1`.
 * - `tsc_early_khz=… tsc=reliable` always (HOSTS.md).
 *
 * Errors, in order: ERR_INVALID_OPTION for `tscKhz`, `memMib` or `vcpus`
 * not a positive integer, a bind, overlay or volume mount without a share
 * (naming its target), an identity mount without `identityImage`, or a
 * target that cannot go on the kernel command line.
 */
export function renderQemuArgs(manifest: BackendManifest, options: QemuArgsOptions): string[] {
  for (const key of ['tscKhz', 'memMib', 'vcpus'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new StrataError(ErrorCode.invalidOption, `${key} must be a positive integer, got ${value}`);
  }
  const shares: { tag: string; target: string; readonly: boolean; path: string }[] = [];
  for (const m of manifest.mounts) {
    if (m.type !== 'bind' && m.type !== 'overlay' && m.type !== 'volume') continue;
    const path = options.shares?.[m.target];
    if (path === undefined) throw new StrataError(ErrorCode.invalidOption, `${m.type} mount at '${m.target}' needs a host directory to share (options.shares)`);
    shares.push({ tag: `share${shares.length}`, target: m.target, readonly: m.type === 'overlay' || m.readonly === true, path });
  }
  if (options.jobImage === undefined) checkIdentityDrive(manifest, options.identityImage);

  const args = ['-M', 'microvm', '-accel', options.accel, '-m', String(options.memMib), '-smp', String(options.vcpus ?? 1), '-nographic', '-no-reboot', '-kernel', options.kernel];
  if (options.initrd !== undefined) args.push('-initrd', options.initrd);
  const drive = (id: string, file: string, readonly: boolean) => {
    // The serial names the drive in the guest (/sys/block/vdX/serial): probe order is not device order.
    args.push('-drive', `id=${id},file=${qemuValue(file)},format=raw,if=none${readonly ? ',readonly=on' : ''}`, '-device', `virtio-blk-device,drive=${id},serial=${id}`);
  };
  drive('rootfs', options.rootfsImage, true);
  if (manifest.root.mode === 'overlay' && options.upperImage !== undefined) drive('upper', options.upperImage, false);
  if (options.identityImage !== undefined) drive('identity', options.identityImage, true);
  if (options.jobImage !== undefined) drive('job', options.jobImage, true);
  if (options.stateImage !== undefined) drive('state', options.stateImage, false);
  if (options.exportImage !== undefined) drive('export', options.exportImage, false);
  if (options.ports !== undefined) {
    args.push('-device', 'virtio-serial-device,max_ports=4');
    for (const name of ['stdout', 'stderr', 'control'] as const) {
      args.push('-chardev', `socket,id=${name},path=${qemuValue(options.ports[name])}`, '-device', `virtserialport,chardev=${name},name=${name}`);
    }
  }
  for (const s of shares) {
    args.push('-fsdev', `local,id=${s.tag},path=${qemuValue(s.path)},security_model=none${s.readonly ? ',readonly=on' : ''}`, '-device', `virtio-9p-device,fsdev=${s.tag},mount_tag=${s.tag}`);
  }
  args.push('-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04');
  const words = [options.bootArgs ?? 'console=ttyS0 quiet panic=-1', `tsc_early_khz=${options.tscKhz}`, 'tsc=reliable', ...(options.initrd === undefined ? ['root=/dev/vda', 'ro'] : []), ...guestBootWords(manifest, shares)];
  args.push('-append', words.join(' '));
  return args;
}
