import { lstatSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedRootfs, closeRootfsLayers, materializeRootfs, rootfsLayers, type BackendManifest } from '../../src/backends/index.js';
import { requireTool } from '../support/host-tool.js';
import { busyboxImage, busyboxMotd, busyboxTools, type BusyboxImage } from '../support/busybox-image.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

describe.skipIf(!requireTool(...busyboxTools))('rootfs: materializing a manifest root (busybox image from a registry)', () => {
  let registry: TestRegistry;
  let bb: BusyboxImage;
  const dirs: string[] = [];
  const temp = () => {
    const d = mkdtempSync(join(tmpdir(), 'strata-rootfs-test-'));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    registry = await startRegistry();
    bb = await busyboxImage({ registry });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const manifest = (): BackendManifest => ({ class: 'runc', image: bb.image, root: { mode: 'overlay' }, mounts: [], backend: { assets: [], config: {} }, delta: [] });

  it('the image has busybox, applet links, /etc and its config process', async () => {
    const layers = await rootfsLayers(manifest(), { store: bb.store });
    expect(layers.imageProcess).toMatchObject({ cmd: ['/bin/sh'], workdir: '/' });
    expect(layers.diffIDs).toEqual(bb.image.diffIDs);
    closeRootfsLayers(layers);
  });

  it('materializes a private copy from one cached tree, reused by the next prepare', async () => {
    const a = await materializeRootfs(manifest(), join(temp(), 'rootfs'), { store: bb.store });
    expect(readFileSync(join(a.dir, 'etc/motd'), 'utf8')).toBe(busyboxMotd);
    expect(readlinkSync(join(a.dir, 'bin/sh'))).toBe('busybox');
    expect(lstatSync(join(a.dir, 'tmp')).mode & 0o7777).toBe(0o1777);
    writeFileSync(join(a.dir, 'etc/motd'), 'private');
    const cachedIno = lstatSync(join(a.cached, 'etc/motd')).ino;
    const b = await materializeRootfs(manifest(), join(temp(), 'rootfs'), { store: bb.store });
    expect(b.cached).toBe(a.cached);
    expect(lstatSync(join(b.cached, 'etc/motd')).ino).toBe(cachedIno);
    expect(readFileSync(join(b.dir, 'etc/motd'), 'utf8')).toBe(busyboxMotd);
    expect(readdirSync(join(bb.store.root, 'rootfs')).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    closeRootfsLayers(a);
    closeRootfsLayers(b);
  });

  it('refuses a non-empty target', async () => {
    const dir = temp();
    writeFileSync(join(dir, 'x'), '');
    await expect(materializeRootfs(manifest(), dir, { store: bb.store })).rejects.toMatchObject({ code: 'ERR_BAD_PATH' });
  });

  it('cachedRootfs of the same layers twice is one tree, under a cache no other user can enter', async () => {
    const layers = await rootfsLayers(manifest(), { store: bb.store });
    const [a, b] = [await cachedRootfs(bb.store, layers.layers), await cachedRootfs(bb.store, layers.layers)];
    expect(a.tree).toBe(b.tree);
    await a.release();
    await b.release();
    expect(lstatSync(join(bb.store.root, 'rootfs')).mode & 0o777).toBe(0o700);
    closeRootfsLayers(layers);
  });
});
