import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/sandbox/index.js';
import { guestPath, text } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';
import { storeWithImage } from './support.js';

describe('Sandbox.commit and Sandbox.create({ from })', () => {
  it('never bakes in identity files: they are recorded by target, and injected afresh at restore', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, mounts: [{ type: 'identity', target: '/run/strata', files: { token: 'first-secret' } }] });
    await sandbox.fs.writeFile('/etc/motd', 'init done\n');
    const { digest, manifest } = await sandbox.commit();
    expect(manifest.mounts).toEqual([{ type: 'identity', target: '/run/strata' }]);
    const manifestText = readFileSync(images.blobs.path(digest), 'utf8');
    const layer = gunzipSync(readFileSync(images.blobs.path(manifest.delta[0]!.digest)));
    for (const bytes of [manifestText, layer.toString('latin1')]) expect(bytes).not.toContain('first-secret');

    const restored = await Sandbox.create({ from: digest, store: images, mounts: [{ type: 'identity', target: '/run/strata', files: { token: 'second-secret' } }] });
    expect(text(await restored.fs.readFile('/run/strata/token'))).toBe('second-secret');
    expect(text(await restored.fs.readFile('/etc/motd'))).toBe('init done\n');
    const without = await Sandbox.create({ from: digest, store: images });
    expect(await without.fs.readFile('/run/strata/token').catch((e: { code: string }) => e.code)).toBe('ENOENT');
  });

  it('records mounts without host paths unless asked, and rebuilds tmpfs and volume mounts', async () => {
    const { images, reference } = await storeWithImage();
    const host = tempDir('strata-bind-');
    const mounts = [
      { type: 'tmpfs', target: '/scratch', size: 1 << 20 },
      { type: 'bind', source: host, target: '/out', readonly: true },
      { type: 'volume', name: 'cache', target: '/cache' },
    ] as const;
    const sandbox = await Sandbox.create({ image: reference, store: images, mounts });
    await sandbox.fs.writeFile('/scratch/tmp', 'scratch is not the root');
    const plain = await sandbox.commit();
    expect(plain.manifest.mounts).toEqual([
      { type: 'tmpfs', target: '/scratch', size: 1 << 20 },
      { type: 'bind', target: '/out', readonly: true },
      { type: 'volume', target: '/cache', name: 'cache' },
    ]);
    expect(JSON.stringify(plain.manifest)).not.toContain(host);
    const withPaths = await sandbox.commit({ includeHostPaths: true });
    expect(withPaths.manifest.mounts[1]).toEqual({ type: 'bind', target: '/out', readonly: true, source: host });

    const restored = await Sandbox.create({ from: plain.digest, store: images });
    expect((await restored.fs.stat('/scratch')).isDirectory()).toBe(true);
    expect(await restored.fs.readFile('/scratch/tmp').catch((e: { code: string }) => e.code)).toBe('ENOENT'); // a tmpfs mount starts empty
    expect((await restored.fs.stat('/cache')).isDirectory()).toBe(true);
    expect(await restored.fs.stat('/out').catch((e: { code: string }) => e.code)).toBe('ENOENT'); // no path, no bind
    const bound = await Sandbox.create({ from: withPaths.digest, store: images });
    expect((await bound.fs.stat('/out')).isDirectory()).toBe(true);
  });

  it('lets the sandbox go on while the delta is written: later writes are its own, not the snapshot\'s', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
    await sandbox.fs.writeFile('/before', 'in the snapshot');
    const pending = sandbox.commit();
    await sandbox.fs.writeFile('/after', 'not in it');
    await sandbox.fs.rm('/before');
    const { digest, pauseMs } = await pending;
    expect(pauseMs).toBeGreaterThanOrEqual(0);
    const restored = await Sandbox.create({ from: digest, store: images, dev: false });
    expect(text(await restored.fs.readFile('/before'))).toBe('in the snapshot');
    expect(await restored.fs.readFile('/after').catch((e: { code: string }) => e.code)).toBe('ENOENT');
    // And the next commit of the same sandbox is a delta over the first.
    const next = await sandbox.commit();
    expect(next.manifest.parent).toBe(digest);
    const again = await Sandbox.create({ from: next.digest, store: images, dev: false });
    expect(await again.fs.readFile('/before').catch((e: { code: string }) => e.code)).toBe('ENOENT');
    expect(text(await again.fs.readFile('/after'))).toBe('not in it');
  });

  it('runs guests over a restored snapshot: what an init process wrote is there, and writes stay private', async () => {
    const { images, reference } = await storeWithImage();
    const init = await Sandbox.create({ image: reference, store: images });
    await init.run(guestPath('fsbox'), { args: ['write', '/etc/state', 'initialised'] });
    const { digest } = await init.commit({ labels: { golden: 'yes' } });
    const restores = await Promise.all([1, 2, 3].map(() => Sandbox.create({ from: digest, store: images })));
    for (const [i, sandbox] of restores.entries()) {
      const { stdout } = await sandbox.run(guestPath('fsbox'), { args: ['cat', '/etc/state'] });
      expect(text(stdout)).toBe('initialised');
      await sandbox.run(guestPath('fsbox'), { args: ['write', '/etc/state', `mine ${i}`] });
    }
    for (const [i, sandbox] of restores.entries()) expect(text(await sandbox.fs.readFile('/etc/state'))).toBe(`mine ${i}`);
  });

  it('records the class and backend a caller passes', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images });
    const asset = { name: 'node', version: '20.0.0', arch: { amd64: { path: '/usr/bin/node', sha256: 'a'.repeat(64) } } };
    const { manifest } = await sandbox.commit({ class: 'wasm', backend: { assets: [asset], config: { threads: false } } });
    expect(manifest.backend).toEqual({ assets: [asset], config: { threads: false } });
  });

  it('refuses `from` with `image`, and a host-directory upper', async () => {
    const { images, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images });
    const { digest } = await sandbox.commit();
    await expect(Sandbox.create({ from: digest, image: reference, store: images })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    const kept = await Sandbox.create({ image: reference, store: images, upper: { dir: tempDir('strata-upper-') } });
    await expect(kept.commit()).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});

describe('SandboxPool', () => {
  it('refuses `from` with `image`, as Sandbox.create does (restores: test/sandbox/pool-snapshot.test.ts)', async () => {
    const { SandboxPool } = await import('../../src/sandbox/pool/index.js');
    const pool = new SandboxPool({ size: 1 });
    await expect(pool.create({ from: 'sha256:abcd', image: 'oci:examples/hello-image' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await pool.close();
  });
});
