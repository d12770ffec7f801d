/**
 * A filesystem-only snapshot moves between hosts: taken on runc, restored
 * on the wasm backend, and back. The image holds busybox (for runc) and
 * fsbox.wasm (for wasm) over the same files; the snapshot's delta layers
 * are plain OCI layers, so only the class (and its assets) changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultHostConfig, selectBackend, type Backend, type BackendManifest, type Prepared } from '../../src/backends/index.js';
import { SnapshotStore, type SnapshotManifest } from '../../src/snapshot/index.js';
import { busyboxImage, busyboxLayoutWith, busyboxMotd, type BusyboxImage } from '../support/busybox-image.js';
import { guestBytes, text } from '../support/guests.js';
import { bundleDirs, busybox, busyboxManifest, OciRuntimeBackend, ociRuntimeReady, runtimeConfig, stopBusybox } from './oci-runtime-fixture.js';

const ready = ociRuntimeReady();
const before = new Set(bundleDirs());
afterAll(async () => {
  await stopBusybox();
  expect(bundleDirs().filter((d) => !before.has(d))).toEqual([]);
});

async function run(backend: Backend, prepared: Prepared, args: string[]) {
  const exit = await (await backend.exec(prepared, { args })).wait();
  return { code: exit.code, stdout: text(exit.stdout) };
}

describe.skipIf(!ready)('a filesystem snapshot moves between runc and the wasm backend', () => {
  let image: BusyboxImage;
  let runc: OciRuntimeBackend;
  let wasm: Backend;
  let snapshots: SnapshotStore;
  beforeAll(async () => {
    const { registry } = await busybox();
    image = await busyboxImage({ registry, layout: busyboxLayoutWith('wasm', { '/usr/bin/fsbox': guestBytes('fsbox') }) });
    runc = new OciRuntimeBackend('runc', await runtimeConfig('runc'));
    wasm = selectBackend('wasm', await defaultHostConfig());
    snapshots = new SnapshotStore(image.store);
  }, 60_000);

  /** The same snapshot, recorded for another class (its delta and image untouched). */
  const moveTo = async (manifest: BackendManifest, cls: 'wasm' | 'runc') =>
    (await snapshots.adopt({ ...(manifest as SnapshotManifest), class: cls, backend: { assets: [], config: {} } })).digest;

  it('runc → wasm: a changed and a deleted file', async () => {
    const prepared = await runc.prepare(busyboxManifest('runc', image, 'overlay'), { store: image.store });
    let restored: Prepared | undefined;
    try {
      expect((await run(runc, prepared, ['/bin/sh', '-c', 'printf "from runc" > /etc/motd && rm /etc/group && mkdir -p /srv/new && echo n > /srv/new/f'])).code).toBe(0);
      const { manifest } = await runc.checkpoint(prepared);
      expect(manifest.delta).toHaveLength(1);
      restored = await wasm.restore(await moveTo(manifest, 'wasm'), { store: image.store });
      expect(await run(wasm, restored, ['fsbox', 'cat', '/etc/motd'])).toEqual({ code: 0, stdout: 'from runc' });
      expect(await run(wasm, restored, ['fsbox', 'cat', '/srv/new/f'])).toEqual({ code: 0, stdout: 'n\n' });
      expect((await run(wasm, restored, ['fsbox', 'cat', '/etc/group'])).code).not.toBe(0);
      expect((await run(wasm, restored, ['fsbox', 'cat', '/etc/passwd'])).code).toBe(0);
    } finally {
      await runc.cleanup(prepared);
      if (restored !== undefined) await wasm.cleanup(restored);
    }
  });

  it('runsc → wasm: a filesystem-only checkpoint (overlay root kept on the host: "overlay": "host")', async () => {
    const runsc = new OciRuntimeBackend('runsc', await runtimeConfig('runsc', { overlay: 'host' }));
    const prepared = await runsc.prepare(busyboxManifest('runsc', image, 'overlay'), { store: image.store });
    let restored: Prepared | undefined;
    try {
      expect((await run(runsc, prepared, ['/bin/sh', '-c', 'printf "from runsc" > /etc/motd && rm /etc/group'])).code).toBe(0);
      const { manifest } = await runsc.checkpoint(prepared, { memory: false });
      expect(manifest.backend.config['checkpoint']).toBeUndefined();
      restored = await wasm.restore(await moveTo(manifest, 'wasm'), { store: image.store });
      expect(await run(wasm, restored, ['fsbox', 'cat', '/etc/motd'])).toEqual({ code: 0, stdout: 'from runsc' });
      expect((await run(wasm, restored, ['fsbox', 'cat', '/etc/group'])).code).not.toBe(0);
    } finally {
      await runsc.cleanup(prepared);
      if (restored !== undefined) await wasm.cleanup(restored);
    }
  });

  it("runsc's in-memory overlay root refuses a filesystem-only checkpoint, saying why", async () => {
    const runsc = new OciRuntimeBackend('runsc', await runtimeConfig('runsc'));
    const prepared = await runsc.prepare(busyboxManifest('runsc', image, 'overlay'), { store: image.store });
    const error = await runsc.checkpoint(prepared, { memory: false }).catch((e: unknown) => e);
    await runsc.cleanup(prepared);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/"overlay": "host"/) });
  });

  it('wasm → runc', async () => {
    const manifest: BackendManifest = { ...busyboxManifest('wasm', image, 'overlay'), process: { args: ['fsbox', 'cat', '/etc/motd'], env: ['PATH=/usr/bin:/bin'], workdir: '/' } };
    const prepared = await wasm.prepare(manifest, { store: image.store });
    let restored: Prepared | undefined;
    try {
      expect((await run(wasm, prepared, ['fsbox', 'write', '/etc/motd', 'from wasm'])).code).toBe(0);
      const checkpoint = await wasm.checkpoint(prepared);
      restored = await runc.restore(await moveTo(checkpoint.manifest, 'runc'), { store: image.store });
      expect(await run(runc, restored, ['/bin/cat', '/etc/motd'])).toEqual({ code: 0, stdout: 'from wasm' });
      expect(await run(runc, restored, ['/bin/cat', '/etc/passwd'])).toMatchObject({ code: 0 });
      expect(busyboxMotd).not.toBe('from wasm');
    } finally {
      await wasm.cleanup(prepared);
      if (restored !== undefined) await runc.cleanup(restored);
    }
  });
});
