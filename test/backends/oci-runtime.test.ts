/**
 * The oci-runtime backend on real runtimes: the same manifest on runc, crun
 * and runsc in every root mode (EROFS, tmpfs quotas, read-only binds, exit
 * codes, stdio), its config.json against the runtime-spec schema, runsc
 * memory checkpoints, and refusals before anything runs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey, type Backend, type ManifestMount, type ManifestRootMode, type OciPrepared, type Prepared } from '../../src/backends/index.js';
import { ImageStore } from '../../src/oci/index.js';
import { SnapshotStore, type SnapshotManifest } from '../../src/snapshot/index.js';
import { codeOf } from '../support/error-code.js';
import { text } from '../support/guests.js';
import { runtimeConfigCheck, specPresent } from '../support/published-specs.js';
import { busyboxImage, type BusyboxImage } from '../support/busybox-image.js';
import { bundleDirs, busybox, busyboxManifest, busyboxMotd, OciRuntimeBackend, ociRuntimeReady, runtimeClasses, runtimeConfig, stopBusybox, tamperedConfig } from './oci-runtime-fixture.js';

const ready = ociRuntimeReady();
const before = new Set(bundleDirs());
const host = mkdtempSync(join(tmpdir(), 'strata-oci-test-'));
writeFileSync(join(host, 'given'), 'from the host\n');
const out = mkdtempSync(join(tmpdir(), 'strata-oci-out-'));
const identity = [{ type: 'identity' as const, target: '/run/strata', files: { token: 'secret' } }];
const mounts: ManifestMount[] = [
  { type: 'tmpfs', target: '/scratch', size: 1 << 20, inodes: 64 },
  { type: 'bind', target: '/data', source: host, readonly: true },
  { type: 'bind', target: '/out', source: out },
  { type: 'identity', target: '/run/strata' },
];
const modes: readonly ManifestRootMode[] = ['readonly', 'overlay', 'tmpfs'];

afterAll(async () => {
  await stopBusybox();
  rmSync(host, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  expect(bundleDirs().filter((d) => !before.has(d))).toEqual([]);
});

const sh = (script: string) => ['/bin/sh', '-c', script];
async function run(backend: Backend, prepared: Prepared, args: string[], stdin?: string) {
  const exit = await (await backend.exec(prepared, { args, ...(stdin !== undefined && { stdin }) })).wait();
  return { code: exit.code, reason: exit.reason, stdout: text(exit.stdout), stderr: text(exit.stderr) };
}

describe.skipIf(!ready)('oci-runtime backend: one manifest on runc, crun and runsc', () => {
  let image: BusyboxImage;
  beforeAll(async () => {
    image = (await busybox()).image;
  }, 60_000);

  describe.each(runtimeClasses)('%s', (cls) => {
    let backend: OciRuntimeBackend;
    beforeAll(async () => {
      backend = new OciRuntimeBackend(cls, await runtimeConfig(cls));
    });

    it.each(modes)('root %s: EROFS or private writes, tmpfs quota, read-only bind, identity, exit codes, stdio', async (mode) => {
      const prepared = (await backend.prepare(busyboxManifest(cls, image, mode, mounts), { store: image.store, identity })) as OciPrepared;
      try {
        const config = JSON.parse(readFileSync(join(prepared.bundle.dir, 'config.json'), 'utf8')) as { root: { readonly: boolean } };
        if (specPresent('oci-runtime-spec/config-schema.json')) expect(runtimeConfigCheck()(config)).toEqual([]);
        expect(config.root.readonly).toBe(mode === 'readonly');

        const write = await run(backend, prepared, sh('echo changed > /etc/motd'));
        if (mode === 'readonly') expect(write).toMatchObject({ code: 1, stderr: expect.stringMatching(/Read-only file system/) });
        else expect(write.code).toBe(0);
        expect((await run(backend, prepared, ['/bin/cat', '/etc/motd'])).stdout).toBe(mode === 'readonly' ? busyboxMotd : 'changed\n');

        // tmpfs mount quota: 1 MiB.
        expect(await run(backend, prepared, sh('head -c 524288 /dev/zero > /scratch/half && echo ok'))).toMatchObject({ code: 0, stdout: 'ok\n' });
        expect(await run(backend, prepared, ['/bin/dd', 'if=/dev/zero', 'of=/scratch/full', 'bs=65536', 'count=16'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/No space left on device/) });

        expect(await run(backend, prepared, ['/bin/cat', '/data/given'])).toMatchObject({ code: 0, stdout: 'from the host\n' });
        expect(await run(backend, prepared, sh('touch /data/new'))).toMatchObject({ code: 1, stderr: expect.stringMatching(/Read-only file system/) });
        expect((await run(backend, prepared, sh(`echo ${cls}-${mode} > /out/${cls}-${mode}`))).code).toBe(0);
        expect(readFileSync(join(out, `${cls}-${mode}`), 'utf8')).toBe(`${cls}-${mode}\n`);
        expect(await run(backend, prepared, ['/bin/cat', '/run/strata/token'])).toMatchObject({ code: 0, stdout: 'secret' });
        expect((await run(backend, prepared, sh('echo x > /run/strata/token'))).code).not.toBe(0);

        expect(await run(backend, prepared, sh('echo to-stderr >&2; exit 7'))).toEqual({ code: 7, reason: 'exit', stdout: '', stderr: 'to-stderr\n' });
        expect(await run(backend, prepared, ['/bin/cat'], 'over stdin')).toMatchObject({ code: 0, stdout: 'over stdin' });
      } finally {
        await backend.cleanup(prepared);
      }
    });

    it('a tmpfs root has its byte quota', async () => {
      const manifest = { ...busyboxManifest(cls, image, 'tmpfs'), root: { mode: 'tmpfs' as const, limits: { maxBytes: 8 << 20, maxInodes: 4096 } } };
      const prepared = await backend.prepare(manifest, { store: image.store });
      try {
        expect(await run(backend, prepared, ['/bin/dd', 'if=/dev/zero', 'of=/big', 'bs=1048576', 'count=10'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/No space left on device/) });
      } finally {
        await backend.cleanup(prepared);
      }
    });

    it('times out and kills a running process', async () => {
      const prepared = await backend.prepare(busyboxManifest(cls, image, 'overlay'), { store: image.store });
      try {
        const slow = await (await backend.exec(prepared, { args: ['/bin/sleep', '30'], timeoutMs: 300 })).wait();
        expect(slow).toMatchObject({ code: null, signal: 'SIGKILL', reason: 'timeout' });
        const p = await backend.exec(prepared, { args: ['/bin/sleep', '30'] });
        await new Promise((r) => setTimeout(r, 200));
        await p.kill('SIGTERM');
        expect(await p.wait()).toMatchObject({ code: null, signal: 'SIGTERM', reason: 'killed' });
      } finally {
        await backend.cleanup(prepared);
      }
    });
  });

  it.each(runtimeClasses)('%s: rlimits and cgroup memory/pids limits come from the class config', async (cls) => {
    // runsc puts its whole sandbox (the sentry's threads and memory) in the cgroup: 16 pids or 64 MiB cannot start it.
    const limits = cls === 'runsc' ? { maxFds: 100, pids: 512, memoryBytes: 1 << 30 } : { maxFds: 100, pids: 16, memoryBytes: 64 << 20 };
    const backend = new OciRuntimeBackend(cls, await runtimeConfig(cls, { limits }));
    const prepared = (await backend.prepare(busyboxManifest(cls, image, 'overlay'), { store: image.store })) as OciPrepared;
    try {
      const config = JSON.parse(readFileSync(join(prepared.bundle.dir, 'config.json'), 'utf8')) as { linux: { resources: unknown }; process: { rlimits: unknown[] } };
      expect(config.linux.resources).toMatchObject({ memory: { limit: limits.memoryBytes }, pids: { limit: limits.pids } });
      expect((await run(backend, prepared, sh('ulimit -n'))).stdout).toBe('100\n');
      if (cls !== 'runsc') {
        // cgroup v1 inside the container's cgroup namespace (runsc has no cgroupfs mounted by default).
        expect((await run(backend, prepared, ['/bin/cat', '/sys/fs/cgroup/pids/pids.max'])).stdout).toBe('16\n');
        expect((await run(backend, prepared, ['/bin/cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'])).stdout).toBe(`${64 << 20}\n`);
      }
    } finally {
      await backend.cleanup(prepared);
    }
  });

  it("runc: a prepared sandbox holds its cached tree (the overlay's lower) against gc until cleanup", async () => {
    const store = await ImageStore.open(mkdtempSync(join(tmpdir(), 'strata-oci-gc-')));
    try {
      const own = await busyboxImage({ registry: (await busybox()).registry, store });
      const backend = new OciRuntimeBackend('runc', await runtimeConfig('runc'));
      const prepared = (await backend.prepare(busyboxManifest('runc', own, 'overlay'), { store })) as OciPrepared;
      const tree = join(store.root, 'rootfs', chainKey(own.image.diffIDs), 'tree');
      try {
        await store.remove(own.image.reference);
        expect(await store.gc()).toMatchObject({ rootfsTreesRemoved: 0 });
        expect(readFileSync(join(tree, 'etc', 'motd'), 'utf8')).toBe(busyboxMotd);
        expect((await run(backend, prepared, ['/bin/cat', '/etc/motd'])).stdout).toBe(busyboxMotd);
      } finally {
        await backend.cleanup(prepared);
      }
      expect(await store.gc()).toMatchObject({ rootfsTreesRemoved: 1 });
      expect(existsSync(tree)).toBe(false);
    } finally {
      rmSync(store.root, { recursive: true, force: true });
    }
  });

  it('runc and crun refuse a memory checkpoint with a clear error', async () => {
    for (const cls of ['runc', 'crun'] as const) {
      const backend = new OciRuntimeBackend(cls, await runtimeConfig(cls));
      const prepared = await backend.prepare(busyboxManifest(cls, image, 'overlay'), { store: image.store });
      const error = await backend.checkpoint(prepared, { memory: true }).catch((e: unknown) => e);
      await backend.cleanup(prepared);
      expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/cannot checkpoint a running process/) });
    }
  });

  it('runsc: a memory checkpoint carries tmpfs state across a restore; a checkpoint of another runsc sha256 is refused before anything runs', async () => {
    const config = await runtimeConfig('runsc', { annotations: { 'org.example.note': 'strata-test' } });
    const backend = new OciRuntimeBackend('runsc', config);
    const prepared = await backend.prepare(busyboxManifest('runsc', image, 'overlay', mounts), { store: image.store, identity });
    let restored: Prepared | undefined;
    try {
      expect((await run(backend, prepared, sh('echo in-memory > /scratch/state; echo root-write > /root/file'))).code).toBe(0);
      const { digest, manifest } = await backend.checkpoint(prepared, { labels: { test: 'runsc' } });
      const recorded = manifest.backend.config['checkpoint'] as { digest: string; runsc: { sha256: string; version: string } };
      // runsc's per-runtime config is recorded: platform, file access, the probed overlay flag, annotations.
      expect(manifest.backend.config).toMatchObject({ platform: 'ptrace', fileAccess: 'exclusive', network: 'none', overlayFlag: expect.stringMatching(/^--overlay/), annotations: { 'org.example.note': 'strata-test' } });
      expect(recorded.runsc).toEqual({ sha256: config.assets[0]!.arch[Object.keys(config.assets[0]!.arch)[0]!]!.sha256, version: config.assets[0]!.version });
      expect(await image.store.blobs.has(recorded.digest as `sha256:${string}`)).toBe(true);
      // The checkpointed sandbox goes on running.
      expect((await run(backend, prepared, ['/bin/cat', '/scratch/state'])).stdout).toBe('in-memory\n');
      await backend.cleanup(prepared);

      restored = await backend.restore(digest, { store: image.store, identity });
      expect((await run(backend, restored, ['/bin/cat', '/scratch/state'])).stdout).toBe('in-memory\n');
      expect((await run(backend, restored, ['/bin/cat', '/root/file'])).stdout).toBe('root-write\n');

      const other = { ...recorded, runsc: { ...recorded.runsc, sha256: 'b'.repeat(64) } };
      const tampered = await new SnapshotStore(image.store).adopt({ ...(manifest as SnapshotManifest), backend: { ...manifest.backend, config: { ...manifest.backend.config, checkpoint: other } } });
      const dirs = bundleDirs().length;
      expect(await codeOf(backend.restore(tampered.digest, { store: image.store, identity }))).toBe('ERR_ASSET_MISMATCH');
      expect(await codeOf(new OciRuntimeBackend('runsc', tamperedConfig(config)).restore(digest, { store: image.store, identity }))).toBe('ERR_ASSET_MISMATCH');
      expect(bundleDirs().length).toBe(dirs);
    } finally {
      await backend.cleanup(prepared);
      if (restored !== undefined) await backend.cleanup(restored);
    }
  });
});
