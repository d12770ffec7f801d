/**
 * The wasm backend's checkpoint and restore across processes: a snapshot
 * committed here is restored by a child node process that loads strata
 * from the built `dist/` (`npm test` builds first; alone, run `npm run
 * build`) and knows only the store and the snapshot's digest.
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultHostConfig, fileSha256, hostArch, selectBackend, type Backend, type BackendManifest } from '../../src/backends/index.js';
import { ImageStore, pull, Sandbox } from '../../src/index.js';
import { SnapshotStore } from '../../src/snapshot/index.js';
import { codeOf } from '../support/error-code.js';
import { text } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
const run = promisify(execFile);

let backend: Backend;
let store: ImageStore;
let manifest: BackendManifest;

beforeAll(async () => {
  if (!existsSync(dist)) throw new Error(`these tests need the built package (${dist} is missing): run \`npm run build\` first (npm test does)`);
  backend = selectBackend('wasm', await defaultHostConfig());
  store = await ImageStore.open(tempDir('strata-checkpoint-'));
  const record = await pull(`oci:${example}`, { store });
  manifest = {
    class: 'wasm',
    image: { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((l) => l.diffID ?? l.digest) },
    root: { mode: 'overlay' },
    mounts: [{ type: 'tmpfs', target: '/scratch' }, { type: 'identity', target: '/run/strata' }],
    process: { args: ['fsbox', 'cat', '/etc/motd'], env: ['PATH=/usr/bin:/bin'], workdir: '/' },
    backend: { assets: [], config: {} },
    delta: [],
  };
});

/** Restore `digest` from `store` in a child process and run `args`; its JSON report. */
async function restoreElsewhere(digest: string, args: readonly string[]): Promise<{ code?: string; message?: string; exit?: { code: number; stdout: string }; identity?: string }> {
  const script = join(tempDir('strata-child-'), 'restore.mjs');
  writeFileSync(
    script,
    `import { ImageStore, defaultHostConfig, selectBackend } from ${JSON.stringify(pathToFileURL(dist).href)};
const [storeRoot, digest, ...args] = process.argv.slice(2);
const backend = selectBackend('wasm', await defaultHostConfig());
try {
  const prepared = await backend.restore(digest, { store: await ImageStore.open(storeRoot), identity: [{ type: 'identity', target: '/run/strata', files: { host: 'child' } }] });
  const exit = await (await backend.exec(prepared, { args })).wait();
  const identity = await (await backend.exec(prepared, { args: ['fsbox', 'cat', '/run/strata/host'] })).wait();
  await backend.cleanup(prepared);
  console.log(JSON.stringify({ exit: { code: exit.code, stdout: new TextDecoder().decode(exit.stdout) }, identity: new TextDecoder().decode(identity.stdout) }));
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`,
  );
  const { stdout } = await run(process.execPath, [script, store.root, digest, ...args], { env: { PATH: process.env['PATH'] ?? '' } });
  return JSON.parse(stdout) as ReturnType<typeof restoreElsewhere> extends Promise<infer T> ? T : never;
}

describe('wasm backend checkpoint and restore', () => {
  it('records the node that ran it, and another process restores the files from the manifest alone', async () => {
    const prepared = await backend.prepare(manifest, { store, identity: [{ type: 'identity', target: '/run/strata', files: { host: 'secret-of-the-first-host' } }] });
    expect((await (await backend.exec(prepared, { args: ['fsbox', 'write', '/etc/motd', 'written before the checkpoint'] })).wait()).code).toBe(0);
    expect((await (await backend.exec(prepared, { args: ['fsbox', 'mkdir', '/work'] })).wait()).code).toBe(0);
    const { digest, manifest: recorded } = await backend.checkpoint(prepared, { labels: { golden: 'yes' } });

    const sha256 = await fileSha256(process.execPath);
    expect(recorded.backend.assets).toEqual([{ name: 'node', version: process.version, arch: { [hostArch()]: { path: process.execPath, sha256 } } }]);
    expect(recorded.backend.config).toEqual({ strata: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(recorded.delta.length).toBe(1);
    expect(recorded.mounts).toContainEqual({ type: 'identity', target: '/run/strata' });
    expect(JSON.stringify(recorded)).not.toContain('secret-of-the-first-host'); // identity contents are never recorded

    // The sandbox goes on; its later writes are not in the snapshot.
    expect((await (await backend.exec(prepared, { args: ['fsbox', 'write', '/etc/motd', 'after'] })).wait()).code).toBe(0);
    await backend.cleanup(prepared);

    const child = await restoreElsewhere(digest, ['fsbox', 'cat', '/etc/motd']);
    expect(child).toEqual({ exit: { code: 0, stdout: 'written before the checkpoint' }, identity: 'child' });
    expect((await restoreElsewhere(digest.slice(0, 19), ['fsbox', 'ls', '/'])).exit?.stdout).toMatch(/\bwork\b/);
  });

  it('restores the same snapshot many times here, each with private writes', async () => {
    const prepared = await backend.prepare(manifest, { store, identity: [{ type: 'identity', target: '/run/strata', files: {} }] });
    await (await backend.exec(prepared, { args: ['fsbox', 'write', '/etc/motd', 'golden'] })).wait();
    const { digest } = await backend.checkpoint(prepared);
    const copies = await Promise.all([1, 2, 3].map(() => backend.restore(digest, { store, identity: [{ type: 'identity', target: '/run/strata', files: {} }] })));
    await (await backend.exec(copies[0]!, { args: ['fsbox', 'write', '/etc/motd', 'mine'] })).wait();
    const motd = await Promise.all(copies.map(async (c) => text((await (await backend.start(c)).wait()).stdout)));
    expect(motd).toEqual(['mine', 'golden', 'golden']);
  });

  it('restores a plain sandbox.commit() snapshot, which records no assets', async () => {
    const sandbox = await Sandbox.create({ image: `oci:${example}`, store });
    sandbox.writeFile('/etc/motd', 'plain commit');
    const { digest, manifest: plain } = await sandbox.commit();
    expect(plain.backend.assets).toEqual([]);
    const restored = await backend.restore(digest, { store });
    expect(text((await (await backend.exec(restored, { args: ['fsbox', 'cat', '/etc/motd'] })).wait()).stdout)).toBe('plain commit');
  });

  it('refuses, before anything runs, a snapshot whose recorded node sha256 differs from the host', async () => {
    const prepared = await backend.prepare(manifest, { store, identity: [{ type: 'identity', target: '/run/strata', files: {} }] });
    await (await backend.exec(prepared, { args: ['fsbox', 'write', '/etc/motd', 'x'] })).wait();
    const { digest: good, manifest: recorded } = await backend.checkpoint(prepared);
    const actual = await fileSha256(process.execPath);
    const fake = 'e'.repeat(64);
    const snapshots = new SnapshotStore(store);
    const { digest } = await snapshots.adopt({ ...(recorded as Parameters<SnapshotStore['adopt']>[0]), backend: { assets: [{ name: 'node', version: process.version, arch: { [hostArch()]: { path: process.execPath, sha256: fake } } }], config: {} } });
    // Its delta layer is damaged too: the asset check comes first, so no layer is read.
    const blob = join(store.root, 'blobs', 'sha256', recorded.delta[0]!.digest.slice('sha256:'.length));
    rmSync(blob, { force: true });
    writeFileSync(blob, 'not the layer');
    expect(await codeOf(backend.restore(good, { store, identity: [{ type: 'identity', target: '/run/strata', files: {} }] }))).toBe('ERR_DIGEST_MISMATCH');
    const child = await restoreElsewhere(digest, ['fsbox', 'cat', '/etc/motd']);
    expect(child).toEqual({ code: 'ERR_ASSET_MISMATCH', message: `snapshot's backend asset 'node' ${process.version} (${hostArch()}): expected sha256 ${fake}, actual ${actual}` });
    expect(await codeOf(backend.restore(digest, { store }))).toBe('ERR_ASSET_MISMATCH');
  });
});
