/**
 * One conformance suite for every backend, run by calling it with a
 * factory (as containerd runs one suite against every snapshotter). The
 * wasm backend runs it in wasm-conformance.test.ts; the oci-runtime and
 * microvm backends (issues 12 and 13) run it with their own factories,
 * commands and images.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend, BackendManifest, ManifestMount, ManifestRootMode, PrepareOptions } from '../../src/backends/index.js';
import type { ImageStore } from '../../src/index.js';
import { SnapshotStore, type SnapshotManifest } from '../../src/snapshot/index.js';
import { codeOf } from '../support/error-code.js';
import { text } from '../support/guests.js';

/** What the suite needs from a backend under test. */
export interface BackendUnderTest {
  readonly backend: Backend;
  /** The same backend configured with a wrong sha256 for one of its assets. */
  readonly tampered: Backend;
  /** The store its images and snapshots are in. */
  readonly store: ImageStore;
  /** A manifest over the test image whose `/etc/motd` is `motd`, in root mode `mode`. */
  manifest(mode: ManifestRootMode, mounts?: readonly ManifestMount[]): BackendManifest;
  /** The contents of the image's `/etc/motd`. */
  readonly motd: string;
  /** argv printing a file to stdout, and writing `text` into a file. */
  cat(path: string): string[];
  write(path: string, text: string): string[];
}

/** The identity mount every test passes, and the file it must show. */
const identity: NonNullable<PrepareOptions['identity']> = [{ type: 'identity', target: '/run/strata', files: { token: 'conformance' } }];

/** Register the suite for the backend `make` builds. */
export function backendConformance(name: string, make: () => Promise<BackendUnderTest>): void {
  describe(`backend conformance: ${name}`, () => {
    let t: BackendUnderTest;
    let options: PrepareOptions;
    beforeAll(async () => {
      t = await make();
      options = { store: t.store, identity };
    });
    const run = async (prepared: Awaited<ReturnType<Backend['prepare']>>, args: string[]) => {
      const exit = await (await t.backend.exec(prepared, { args })).wait();
      return { code: exit.code, reason: exit.reason, stdout: text(exit.stdout) };
    };

    it('prepare → start → wait runs the manifest process over the image', async () => {
      const prepared = await t.backend.prepare({ ...t.manifest('overlay'), process: { args: t.cat('/etc/motd'), env: ['PATH=/usr/bin:/bin'], workdir: '/' } }, options);
      const exit = await (await t.backend.start(prepared)).wait();
      expect({ code: exit.code, reason: exit.reason, stdout: text(exit.stdout) }).toEqual({ code: 0, reason: 'exit', stdout: t.motd });
      await t.backend.cleanup(prepared);
    });

    it('reports a failing exit code', async () => {
      const prepared = await t.backend.prepare(t.manifest('overlay'), options);
      expect(await run(prepared, t.cat('/no/such/file'))).toMatchObject({ reason: 'exit', code: expect.any(Number) });
      expect((await run(prepared, t.cat('/no/such/file'))).code).not.toBe(0);
      await t.backend.cleanup(prepared);
    });

    it.each(['overlay', 'tmpfs'] as const)('a %s root is writable and private', async (mode) => {
      const prepared = await t.backend.prepare(t.manifest(mode), options);
      expect((await run(prepared, t.write('/etc/motd', 'changed'))).code).toBe(0);
      expect((await run(prepared, t.cat('/etc/motd'))).stdout).toBe('changed');
      const other = await t.backend.prepare(t.manifest(mode), options);
      expect((await run(other, t.cat('/etc/motd'))).stdout).toBe(t.motd);
      await t.backend.cleanup(prepared);
      await t.backend.cleanup(other);
    });

    it('a readonly root refuses writes; its tmpfs mount and identity files work', async () => {
      const prepared = await t.backend.prepare(t.manifest('readonly', [{ type: 'tmpfs', target: '/scratch' }, { type: 'identity', target: '/run/strata' }]), options);
      expect((await run(prepared, t.write('/etc/motd', 'x'))).code).not.toBe(0);
      expect((await run(prepared, t.write('/scratch/f', 'scratch'))).code).toBe(0);
      expect((await run(prepared, t.cat('/scratch/f'))).stdout).toBe('scratch');
      expect((await run(prepared, t.cat('/run/strata/token'))).stdout).toBe('conformance');
      expect((await run(prepared, t.cat('/etc/motd'))).stdout).toBe(t.motd);
      await t.backend.cleanup(prepared);
    });

    it('kill ends a process and wait resolves; cleanup is idempotent and final', async () => {
      const prepared = await t.backend.prepare(t.manifest('overlay'), options);
      const process = await t.backend.exec(prepared, { args: t.cat('/etc/motd') });
      await process.kill('SIGKILL');
      expect(['killed', 'exit']).toContain((await process.wait()).reason);
      await process.kill(); // ended: no error
      await t.backend.cleanup(prepared);
      await t.backend.cleanup(prepared);
      expect(await codeOf(t.backend.exec(prepared, { args: t.cat('/etc/motd') }))).toBe('ERR_INVALID_OPTION');
    });

    it('refuses an asset whose sha256 differs from its pin before building anything', async () => {
      const manifest = t.manifest('overlay', [{ type: 'bind', target: '/data', source: '/nonexistent/strata-conformance' }]);
      expect(await codeOf(t.tampered.prepare(manifest, options))).toBe('ERR_ASSET_MISMATCH');
    });

    it('checkpoint records the assets; restore brings back the files', async ({ skip }) => {
      if (t.backend.capabilities.checkpoint === 'none') skip();
      const prepared = await t.backend.prepare(t.manifest('overlay', [{ type: 'identity', target: '/run/strata' }]), options);
      expect((await run(prepared, t.write('/etc/motd', 'checkpointed'))).code).toBe(0);
      const { digest, manifest } = await t.backend.checkpoint(prepared);
      expect(manifest.class).toBe(t.backend.class);
      expect(manifest.backend.assets.map((a) => a.name)).toEqual(prepared.assets.map((a) => a.name));
      const restored = await t.backend.restore(digest, options);
      expect((await run(restored, t.cat('/etc/motd'))).stdout).toBe('checkpointed');
      expect((await run(restored, t.cat('/run/strata/token'))).stdout).toBe('conformance');

      const snapshots = new SnapshotStore(t.store);
      const [first, ...rest] = manifest.backend.assets;
      const wrong = { ...first!, arch: Object.fromEntries(Object.entries(first!.arch).map(([arch, pin]) => [arch, { ...pin, sha256: '0'.repeat(64) }])) };
      const tampered = await snapshots.adopt({ ...(manifest as SnapshotManifest), backend: { ...manifest.backend, assets: [wrong, ...rest] } });
      expect(await codeOf(t.backend.restore(tampered.digest, options))).toBe('ERR_ASSET_MISMATCH');
      await t.backend.cleanup(prepared);
      await t.backend.cleanup(restored);
    });
  });
}
