import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultHostConfig, fileSha256, hostArch, selectBackend, WasmBackend, type Backend, type BackendManifest, type HostConfig, type WasmPrepared } from '../../src/backends/index.js';
import { ImageStore, pull } from '../../src/index.js';
import { codeOf } from '../support/error-code.js';
import { guestBytes, text } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';

const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
let host: HostConfig;
let backend: Backend;
let store: ImageStore;
let imageManifest: BackendManifest;

beforeAll(async () => {
  host = await defaultHostConfig();
  backend = selectBackend('wasm', host);
  store = await ImageStore.open(tempDir('strata-backend-'));
  const record = await pull(`oci:${example}`, { store });
  imageManifest = { ...bare('overlay'), image: { reference: `oci:${example}`, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((l) => l.diffID ?? l.digest) } };
});

function bare(mode: 'readonly' | 'overlay' | 'tmpfs'): BackendManifest {
  return { class: 'wasm', root: { mode }, mounts: [], process: { args: ['fsbox', 'cat', '/etc/motd'], env: ['PATH=/usr/bin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] };
}

describe('the wasm backend', () => {
  it('prepares a manifest over an image, starts its process and waits for it', async () => {
    const prepared = await backend.prepare(imageManifest, { store });
    expect(prepared.assets.map((a) => a.name)).toEqual(['node']);
    const exit = await (await backend.start(prepared)).wait();
    expect({ ...exit, stdout: text(exit.stdout) }).toMatchObject({ code: 0, signal: null, reason: 'exit', stdout: 'Welcome to the strata example image.\n' });
    const write = await (await backend.exec(prepared, { args: ['fsbox', 'write', '/etc/motd', 'changed'] })).wait();
    expect(write.code).toBe(0);
    expect(text((await (await backend.start(prepared)).wait()).stdout)).toBe('changed');
    await backend.cleanup(prepared);
    await backend.cleanup(prepared);
    expect(await codeOf(backend.start(prepared))).toBe('ERR_INVALID_OPTION');
  });

  it('refuses an image whose manifest digest is not the recorded one', async () => {
    expect(await codeOf(backend.prepare({ ...imageManifest, image: { ...imageManifest.image!, manifestDigest: `sha256:${'1'.repeat(64)}` } }, { store }))).toBe('ERR_DIGEST_MISMATCH');
  });

  it('applies the root mode: readonly gives EROFS', async () => {
    const prepared = await backend.prepare({ ...imageManifest, root: { mode: 'readonly' } }, { store });
    const exit = await (await backend.exec(prepared, { args: ['fsbox', 'write', '/etc/motd', 'x'] })).wait();
    expect(exit.code).toBe(1);
    expect(text(exit.stderr)).toContain('Read-only file system');
  });

  it('injects identity files from the options, never from the manifest, and refuses a missing one', async () => {
    const manifest: BackendManifest = { ...imageManifest, mounts: [{ type: 'identity', target: '/run/strata' }] };
    const prepared = await backend.prepare(manifest, { store, identity: [{ type: 'identity', target: '/run/strata', files: { token: 'secret' } }] });
    expect(text((await (await backend.exec(prepared, { args: ['fsbox', 'cat', '/run/strata/token'] })).wait()).stdout)).toBe('secret');
    expect(await codeOf(backend.prepare(manifest, { store }))).toBe('ERR_INVALID_OPTION');
  });

  it('kills a process that has not begun; a timeout stops one that has', async () => {
    const prepared = await backend.prepare(imageManifest, { store });
    const p = await backend.start(prepared);
    await p.kill();
    expect(await p.wait()).toMatchObject({ code: null, signal: 'SIGKILL', reason: 'killed' });
    (prepared as WasmPrepared).sandbox.writeFile('/spin.wasm', guestBytes('spin'));
    const spin = await backend.exec(prepared, { args: ['/spin.wasm'], timeoutMs: 100 });
    expect(await spin.wait()).toMatchObject({ code: null, reason: 'timeout', error: { code: 'ERR_TIMEOUT' } });
    await spin.kill(); // ended: does nothing
  });

  it('refuses before building anything when the node pin differs (a bind source that is missing is never looked at)', async () => {
    const node = host.classes.wasm!.assets[0]!;
    const wrong = new WasmBackend({ assets: [{ ...node, arch: { [hostArch()]: { path: process.execPath, sha256: 'f'.repeat(64) } } }] });
    const manifest: BackendManifest = { ...bare('tmpfs'), mounts: [{ type: 'bind', target: '/data', source: '/nonexistent/dir' }] };
    await expect(wrong.prepare(manifest)).rejects.toMatchObject({ code: 'ERR_ASSET_MISMATCH', message: expect.stringContaining(`expected sha256 ${'f'.repeat(64)}`) });
    expect(await codeOf(backend.prepare(manifest))).toBe('ERR_BAD_PATH');
  });

  it('refuses a pin of another node binary, a missing node asset, and a manifest recording another node', async () => {
    const node = host.classes.wasm!.assets[0]!;
    const sh = new WasmBackend({ assets: [{ name: 'node', version: process.version, arch: { [hostArch()]: { path: '/bin/sh', sha256: await fileSha256('/bin/sh') } } }] });
    await expect(sh.prepare(bare('tmpfs'))).rejects.toMatchObject({ code: 'ERR_ASSET_MISMATCH', message: expect.stringContaining("pins '/bin/sh'") });
    expect(await codeOf(new WasmBackend({ assets: [] }).prepare(bare('tmpfs')))).toBe('ERR_ASSET_MISSING');
    const recorded = { ...bare('tmpfs'), backend: { assets: [{ ...node, version: 'v0.0.1' }], config: {} } };
    await expect(backend.prepare(recorded)).rejects.toMatchObject({ code: 'ERR_ASSET_MISMATCH', message: `snapshot's backend asset 'node': expected version v0.0.1, actual ${process.version}` });
  });

  it('refuses a manifest of another class', async () => {
    expect(await codeOf(backend.prepare({ ...bare('tmpfs'), class: 'runc' }))).toBe('ERR_INVALID_OPTION');
  });
});
