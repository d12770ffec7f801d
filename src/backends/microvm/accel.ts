import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

/** How long a KVM boot may take before KVM is judged unusable (a KVM boot of the guest takes well under a second). */
export const kvmProbeMs = 5000;

const probes = new Map<string, Promise<'kvm' | 'tcg'>>();

/**
 * The accelerator QEMU should use here, probed, never assumed: `kvm` only
 * when `/dev/kvm` can be opened read-write **and** the guest kernel boots
 * under it (the init answers `strata.probe` at once through isa-debug-exit,
 * so qemu exits with status 85) within {@link kvmProbeMs}; else `tcg`.
 * A `/dev/kvm` that opens but cannot run this kernel (a nested,
 * paravirtual KVM: the guest hangs) is thus `tcg`. Memoized per qemu,
 * kernel and initramfs path for the life of the process.
 */
export function probeAccel(qemu: string, kernel: string, initrd: string, tscKhz: number): Promise<'kvm' | 'tcg'> {
  const key = `${qemu}\0${kernel}\0${initrd}`;
  let probe = probes.get(key);
  if (probe === undefined) {
    probe = bootsUnderKvm(qemu, kernel, initrd, tscKhz).then((ok) => (ok ? 'kvm' : 'tcg'));
    probes.set(key, probe);
  }
  return probe;
}

async function bootsUnderKvm(qemu: string, kernel: string, initrd: string, tscKhz: number): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const args = ['-M', 'microvm', '-accel', 'kvm', '-cpu', 'host', '-m', '128', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'null', '-kernel', kernel, '-initrd', initrd, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-append', `console=ttyS0 quiet panic=-1 tsc_early_khz=${tscKhz} tsc=reliable strata.probe`];
  return new Promise((resolve) => {
    const child = spawn(qemu, args, { stdio: 'ignore', detached: true });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, kvmProbeMs);
    child.on('error', () => resolve(false));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 85);
    });
  });
}
