import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciRuntimeBackend, type BackendManifest } from '../../src/backends/index.js';
import { readHostConfig } from '../../src/backends/host-config.js';
import { ImageStore, pull } from '../../src/oci/index.js';
import { busyboxLayout } from '../support/busybox-image.js';
import { ociRuntimeReady } from '../backends/oci-runtime-fixture.js';
import { pushImage, startRegistry, type TestRegistry } from '../support/registry.js';

// The CLI as users run it: the built bin (npm test builds dist and the bundle first).
const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const ready = ociRuntimeReady();
const home = mkdtempSync(join(tmpdir(), 'strata-cli-class-'));
const bundles = () => readdirSync(tmpdir()).filter((n) => n.startsWith('strata-oci-'));
const children = new Set<number>();
const leftByChildren = () => bundles().filter((n) => children.has(Number(n.split('-')[2])));

function strata(args: string[], input = '') {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, STRATA_HOME: home, STRATA_HOST_CONFIG: '' } });
  if (r.pid !== undefined) children.add(r.pid);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!ready)('strata run --class runc|crun|runsc, strata snapshot restore --class', () => {
  let registry: TestRegistry;
  let image: string;
  beforeAll(async () => {
    registry = await startRegistry();
    const layout = busyboxLayout();
    image = `${registry.host}/strata/busybox:latest`;
    await pushImage(layout.layout, layout.tag, image);
    for (const cls of ['runc', 'crun', 'runsc']) expect(strata(['host', 'pin', cls]).status).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    rmSync(home, { recursive: true, force: true });
    expect(leftByChildren()).toEqual([]);
    expect(bundles().filter((n) => n.startsWith(`strata-oci-${process.pid}-`))).toEqual([]);
  });

  it.each(['runc', 'crun', 'runsc'])('%s: exit code, stdio, env, read-only root, tmpfs', (cls) => {
    const r = strata(['run', '-q', '--insecure', '--class', cls, '--read-only', '--tmpfs', '/scratch:size=65536', '-e', 'WHO=strata', image, '--', '/bin/sh', '-c', 'cat; echo "hi $WHO"; echo x > /scratch/f && cat /scratch/f; echo y > /etc/motd || exit 9'], 'in;');
    expect(r).toMatchObject({ status: 9, stdout: 'in;hi strata\nx\n', stderr: expect.stringMatching(/Read-only file system/) });
  });

  it('a timeout exits 124; a wasm-only flag is a usage error', () => {
    expect(strata(['run', '-q', '--insecure', '--class', 'runc', '--timeout', '300', image, '--', '/bin/sleep', '10']).status).toBe(124);
    expect(strata(['run', '-q', '--insecure', '--class', 'runc', '--trace', image])).toMatchObject({ status: 2, stderr: expect.stringContaining('--trace is not available with --class runc') });
  });

  it('a class the host config does not pin is ERR_BACKEND_UNAVAILABLE', () => {
    const other = mkdtempSync(join(tmpdir(), 'strata-cli-class-none-'));
    try {
      const r = spawnSync(process.execPath, [bin, 'run', '--class', 'runc', '--host-config', join(other, 'host.json'), image], { encoding: 'utf8', env: { ...process.env, STRATA_HOME: home } });
      expect(r).toMatchObject({ status: 1, stderr: expect.stringContaining("ERR_BACKEND_UNAVAILABLE: sandbox class 'runc' is not enabled") });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('snapshot restore --class runs a checkpoint taken on runc', async () => {
    const store = await ImageStore.open(home);
    const record = await pull(image, { store, insecure: true });
    const backend = new OciRuntimeBackend('runc', (await readHostConfig(join(home, 'host.json'))).classes.runc!);
    const manifest: BackendManifest = { class: 'runc', image: { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((l) => l.diffID!) }, root: { mode: 'overlay' }, mounts: [], process: { args: ['/bin/cat', '/etc/motd'], env: ['PATH=/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] };
    const prepared = await backend.prepare(manifest, { store });
    try {
      expect((await (await backend.exec(prepared, { args: ['/bin/sh', '-c', 'echo snapshotted > /etc/motd'] })).wait()).code).toBe(0);
      const { digest } = await backend.checkpoint(prepared);
      expect(strata(['snapshot', 'restore', '--class', 'runc', digest])).toMatchObject({ status: 0, stdout: 'snapshotted\n' });
      expect(strata(['snapshot', 'restore', '--class', 'crun', digest])).toMatchObject({ status: 2, stderr: expect.stringContaining("ERR_INVALID_OPTION: the crun backend cannot prepare a 'runc' manifest") });
    } finally {
      await backend.cleanup(prepared);
    }
  });
});
