import { describe, expect, it } from 'vitest';
import { renderFirecrackerConfig, renderQemuArgs, tscKhzFromCpuinfo, type FirecrackerConfigOptions, type ManifestMount } from '../../src/backends/index.js';
import { firecrackerConfigCheck, specPresent } from '../support/published-specs.js';
import { expectStrataError, manifest, rootModes } from './manifests.js';

const present = specPresent('firecracker/firecracker.yaml');

const vm: FirecrackerConfigOptions = { kernel: '/var/lib/strata/vmlinux', initrd: '/var/lib/strata/initrd.cpio.gz', rootfsImage: '/run/vm/rootfs.ext4', vcpus: 2, memMib: 256 };
const tmpfsAndIdentity: readonly ManifestMount[] = [{ type: 'tmpfs', target: '/scratch', size: 1 << 20, inodes: 100 }, { type: 'identity', target: '/run/strata' }];

const cases = rootModes.flatMap((mode) => [
  { name: `${mode} root, initrd, no mounts`, m: manifest(mode, [], 'firecracker'), o: vm },
  { name: `${mode} root, tmpfs and identity mounts, vsock, upper drive`, m: manifest(mode, tmpfsAndIdentity, 'firecracker'), o: { ...vm, identityImage: '/run/vm/id.ext4', upperImage: '/run/vm/upper.ext4', vsock: { cid: 3, udsPath: '/run/vm/v.sock' } } },
  { name: `${mode} root, no initrd, one vcpu`, m: manifest(mode, [], 'firecracker'), o: { kernel: '/k', rootfsImage: '/r.ext4', vcpus: 1, memMib: 128 } },
]);

describe.skipIf(!present)("renderFirecrackerConfig against Firecracker's FullVmConfiguration", () => {
  const check = present ? firecrackerConfigCheck() : () => [];

  it('the validator catches a misspelled key, a missing field and a bad enum', () => {
    const config = renderFirecrackerConfig(manifest('overlay', [], 'firecracker'), vm);
    expect(check({ ...config, 'boot-source': { kernel_image_path: '/k', bootargs: 'x' } })).not.toEqual([]);
    expect(check({ ...config, 'machine-config': { vcpu_count: 2 } })).not.toEqual([]);
    expect(check({ ...config, drives: [{ drive_id: 'x', is_root_device: false, cache_type: 'Fast' }] })).not.toEqual([]);
  });

  it.each(cases)('$name: valid', ({ m, o }) => {
    expect(check(renderFirecrackerConfig(m, o))).toEqual([]);
  });
});

describe('renderFirecrackerConfig', () => {
  it('renders drives, boot args, machine config and vsock', () => {
    const config = renderFirecrackerConfig(manifest('overlay', tmpfsAndIdentity, 'firecracker'), { ...vm, identityImage: '/id.ext4', upperImage: '/up.ext4', vsock: { cid: 7, udsPath: '/v.sock' } });
    expect(config).toEqual({
      'boot-source': {
        kernel_image_path: vm.kernel,
        initrd_path: vm.initrd,
        boot_args: 'console=ttyS0 reboot=k panic=1 pci=off quiet strata.root=overlay strata.tmpfs=/scratch:1048576:100 strata.identity=/run/strata',
      },
      drives: [
        { drive_id: 'rootfs', path_on_host: vm.rootfsImage, is_root_device: false, is_read_only: true },
        { drive_id: 'upper', path_on_host: '/up.ext4', is_root_device: false, is_read_only: false },
        { drive_id: 'identity', path_on_host: '/id.ext4', is_root_device: false, is_read_only: true },
      ],
      'machine-config': { vcpu_count: 2, mem_size_mib: 256, smt: false },
      vsock: { guest_cid: 7, uds_path: '/v.sock' },
    });
  });

  it('gives a readonly root scratch tmpfs, and boots the rootfs as root without an initrd', () => {
    const config = renderFirecrackerConfig(manifest('readonly', [], 'firecracker'), { kernel: '/k', rootfsImage: '/r', vcpus: 1, memMib: 64 }) as { 'boot-source': { boot_args: string }; drives: { is_root_device: boolean }[] };
    expect(config['boot-source'].boot_args).toMatch(/strata\.root=readonly strata\.tmpfs=\/tmp:67108864:65536 strata\.tmpfs=\/run:67108864:65536 root=\/dev\/vda ro$/);
    expect(config.drives[0]!.is_root_device).toBe(true);
  });

  it.each([
    ['a bind mount', () => renderFirecrackerConfig(manifest('overlay', [{ type: 'bind', target: '/data', source: '/d' }], 'firecracker'), vm), /bind mount at '\/data'/],
    ['identity without a drive', () => renderFirecrackerConfig(manifest('overlay', [{ type: 'identity', target: '/run/strata' }], 'firecracker'), vm), /identityImage/],
    ['3 vcpus', () => renderFirecrackerConfig(manifest('overlay', [], 'firecracker'), { ...vm, vcpus: 3 }), /vcpus/],
    ['a vsock cid of 2', () => renderFirecrackerConfig(manifest('overlay', [], 'firecracker'), { ...vm, vsock: { cid: 2, udsPath: '/v' } }), /cid/],
    ['a target with a space', () => renderFirecrackerConfig(manifest('overlay', [{ type: 'tmpfs', target: '/a b' }], 'firecracker'), vm), /kernel command line/],
  ])('refuses %s with ERR_INVALID_OPTION', (_name, render, message) => {
    expectStrataError(render, 'ERR_INVALID_OPTION', message);
  });
});

describe('renderQemuArgs', () => {
  const options = { kernel: '/k/vmlinux', initrd: '/k/initrd.cpio.gz', rootfsImage: '/vm/root,fs.ext4', memMib: 256, accel: 'tcg' as const, tscKhz: 2_994_374 };

  it("renders HOSTS.md's working command, with the tsc_early_khz fix", () => {
    expect(renderQemuArgs(manifest('readonly', [], 'qemu'), options)).toEqual([
      '-M', 'microvm', '-accel', 'tcg', '-m', '256', '-smp', '1', '-nographic', '-no-reboot',
      '-kernel', '/k/vmlinux', '-initrd', '/k/initrd.cpio.gz',
      '-drive', 'id=rootfs,file=/vm/root,,fs.ext4,format=raw,if=none,readonly=on', '-device', 'virtio-blk-device,drive=rootfs,serial=rootfs',
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
      '-append', 'console=ttyS0 quiet panic=-1 tsc_early_khz=2994374 tsc=reliable strata.root=readonly strata.tmpfs=/tmp:67108864:65536 strata.tmpfs=/run:67108864:65536',
    ]);
  });

  it('shares binds, overlays and volumes over 9p, read-only where asked', () => {
    const mounts: ManifestMount[] = [{ type: 'bind', target: '/data', readonly: true }, { type: 'overlay', target: '/src' }, { type: 'volume', target: '/cache', name: 'c' }, { type: 'identity', target: '/run/strata' }];
    const args = renderQemuArgs(manifest('overlay', mounts, 'qemu'), { ...options, identityImage: '/vm/id.ext4', upperImage: '/vm/up.ext4', shares: { '/data': '/srv/d', '/src': '/home/me/src', '/cache': '/store/volumes/c' } });
    const joined = args.join(' ');
    expect(joined).toContain('-drive id=upper,file=/vm/up.ext4,format=raw,if=none -device virtio-blk-device,drive=upper,serial=upper');
    expect(joined).toContain('-drive id=identity,file=/vm/id.ext4,format=raw,if=none,readonly=on');
    expect(joined).toContain('-fsdev local,id=share0,path=/srv/d,security_model=none,readonly=on -device virtio-9p-device,fsdev=share0,mount_tag=share0');
    expect(joined).toContain('-fsdev local,id=share1,path=/home/me/src,security_model=none,readonly=on');
    expect(joined).toContain('-fsdev local,id=share2,path=/store/volumes/c,security_model=none -device');
    expect(args.at(-1)).toBe('console=ttyS0 quiet panic=-1 tsc_early_khz=2994374 tsc=reliable strata.root=overlay strata.share=share0:/data:ro strata.share=share1:/src:ro strata.share=share2:/cache:rw strata.identity=/run/strata');
  });

  it('reads the TSC frequency from /proc/cpuinfo', () => {
    expect(tscKhzFromCpuinfo('processor\t: 0\ncpu MHz\t\t: 2994.374\n')).toBe(2_994_374);
    expect(tscKhzFromCpuinfo('processor : 0\n')).toBeUndefined();
  });

  it.each([
    ['no tscKhz', () => renderQemuArgs(manifest('overlay', [], 'qemu'), { ...options, tscKhz: 0 }), /tscKhz/],
    ['a bind without a share', () => renderQemuArgs(manifest('overlay', [{ type: 'bind', target: '/data' }], 'qemu'), options), /'\/data'/],
  ])('refuses %s with ERR_INVALID_OPTION', (_name, render, message) => {
    expectStrataError(render, 'ERR_INVALID_OPTION', message);
  });
});
