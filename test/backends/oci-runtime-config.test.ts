import { describe, expect, it } from 'vitest';
import { renderRuntimeConfig, type RuntimeConfigOptions } from '../../src/backends/index.js';
import { runtimeConfigCheck, specPresent } from '../support/published-specs.js';
import { everyMount, expectStrataError, manifest, rootModes } from './manifests.js';

const present = specPresent('oci-runtime-spec/config-schema.json');

const hostSide: RuntimeConfigOptions = {
  rootfs: 'rootfs',
  identity: { '/run/strata': '/var/lib/strata/identity/abc' },
  binds: { '/out': '/home/me/out', '/src': '/home/me/src' },
  volumeRoot: '/var/lib/strata/volumes',
  overlayDirs: { '/src': { upper: '/var/lib/strata/ov/upper', work: '/var/lib/strata/ov/work' } },
  limits: { memoryBytes: 256 << 20, pids: 64, maxFds: 512, maxProcesses: 32 },
};

type Mount = { destination: string; type: string; source: string; options?: string[] };
type Config = { root: { readonly: boolean }; mounts: Mount[]; process: { args: string[]; env: string[]; cwd: string; rlimits: { type: string; hard: number }[]; user: { uid: number } }; linux: { namespaces: { type: string }[]; uidMappings?: unknown[]; resources?: { memory?: { limit: number }; pids?: { limit: number }; devices?: unknown[] } } };

const cases = rootModes.flatMap((mode) => [false, true].flatMap((rootless) => [[], everyMount].map((mounts) => ({ mode, rootless, mounts }))));

describe.skipIf(!present)('renderRuntimeConfig against the OCI runtime-spec schema', () => {
  const check = present ? runtimeConfigCheck() : () => [];

  it('the validator catches a broken config (a mount without destination, a string uid)', () => {
    const config = renderRuntimeConfig(manifest('overlay'), hostSide) as unknown as Config;
    expect(check({ ...config, mounts: [{ type: 'tmpfs' }] })).not.toEqual([]);
    expect(check({ ...config, process: { ...config.process, user: { uid: '0', gid: 0 } } })).not.toEqual([]);
  });

  it.each(cases)('root $mode, rootless $rootless, $mounts.length mounts: valid', ({ mode, rootless, mounts }) => {
    const config = renderRuntimeConfig(manifest(mode, mounts), { ...hostSide, rootless, hostUid: 1000, hostGid: 1000 });
    expect(check(config)).toEqual([]);
    const c = config as unknown as Config;
    expect(c.root.readonly).toBe(mode === 'readonly');
    const ns = c.linux.namespaces.map((n) => n.type);
    expect(ns).toContain('network');
    expect(ns.includes('user')).toBe(rootless);
    if (rootless) expect(c.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    const dests = c.mounts.map((m) => m.destination);
    expect(dests.slice(0, 6)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']);
    expect(dests.includes('/sys/fs/cgroup')).toBe(!rootless);
    // A readonly root without a tmpfs mount gets scratch at /tmp and /run.
    expect(dests.includes('/tmp')).toBe(mode === 'readonly' && mounts.length === 0);
  });
});

describe('renderRuntimeConfig', () => {
  const config = renderRuntimeConfig(manifest('readonly', everyMount), hostSide) as unknown as Config;
  const at = (d: string) => config.mounts.find((m) => m.destination === d)!;

  it('renders each mount kind', () => {
    expect(at('/scratch')).toEqual({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${8 << 20}`, 'nr_inodes=1024'] });
    expect(at('/data')).toMatchObject({ type: 'bind', source: '/srv/data', options: ['rbind', 'nosuid', 'nodev', 'ro'] });
    expect(at('/out')).toMatchObject({ type: 'bind', source: '/home/me/out', options: ['rbind', 'nosuid', 'nodev', 'rw'] });
    expect(at('/cache')).toMatchObject({ type: 'bind', source: '/var/lib/strata/volumes/cache' });
    expect(at('/run/strata')).toMatchObject({ type: 'bind', source: '/var/lib/strata/identity/abc', options: ['rbind', 'nosuid', 'nodev', 'ro'] });
    expect(at('/src')).toMatchObject({ type: 'overlay', options: ['lowerdir=/home/me/src', 'upperdir=/var/lib/strata/ov/upper', 'workdir=/var/lib/strata/ov/work', 'nosuid', 'nodev'] });
  });

  it('takes process and limits from the manifest and options', () => {
    expect(config.process).toMatchObject({ args: ['/bin/sh', '-c', 'echo hi'], env: ['PATH=/usr/bin:/bin'], cwd: '/', user: { uid: 0 } });
    expect(config.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 512, soft: 512 }, { type: 'RLIMIT_NPROC', hard: 32, soft: 32 }]);
    expect(config.linux.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }], memory: { limit: 256 << 20 }, pids: { limit: 64 } });
  });

  it('uses the image process when the manifest has none, and the host network when asked', () => {
    const { process: _, ...noProcess } = manifest('overlay');
    const c = renderRuntimeConfig(noProcess, { rootfs: '/b/rootfs', network: 'host', imageProcess: { args: ['/bin/true'], env: [], workdir: '/tmp' } }) as unknown as Config;
    expect(c.process).toMatchObject({ args: ['/bin/true'], cwd: '/tmp' });
    expect(c.linux.namespaces.map((n) => n.type)).not.toContain('network');
  });

  it.each([
    ['no process', () => renderRuntimeConfig({ ...manifest('overlay'), process: undefined }, { rootfs: 'r' }), /no process/],
    ['identity without a host path', () => renderRuntimeConfig(manifest('overlay', [{ type: 'identity', target: '/run/strata' }]), { rootfs: 'r' }), /'\/run\/strata'/],
    ['bind without a source', () => renderRuntimeConfig(manifest('overlay', [{ type: 'bind', target: '/out' }]), { rootfs: 'r' }), /'\/out'/],
    ['overlay without dirs', () => renderRuntimeConfig(manifest('overlay', [{ type: 'overlay', target: '/src', source: '/s' }]), { rootfs: 'r' }), /overlayDirs/],
    ['mappings without rootless', () => renderRuntimeConfig(manifest('overlay'), { rootfs: 'r', uidMappings: [] }), /rootless/],
    ['a bad limit', () => renderRuntimeConfig(manifest('overlay'), { rootfs: 'r', limits: { pids: 0 } }), /limits\.pids/],
  ])('refuses %s with ERR_INVALID_OPTION', (_name, render, message) => {
    expectStrataError(render, 'ERR_INVALID_OPTION', message);
  });
});
