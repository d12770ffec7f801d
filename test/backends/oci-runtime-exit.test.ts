/**
 * A process that prepares sandboxes and exits without cleaning them up
 * (a crashed test, an uncaught exception) leaves nothing behind: the
 * backend's exit hook deletes its containers, umounts its roots and
 * removes its bundles. Runs the built dist in a child process.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { busybox, busyboxManifest, ociRuntimeReady, runtimeConfig, stopBusybox } from './oci-runtime-fixture.js';

const ready = ociRuntimeReady();
const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
afterAll(stopBusybox);

const child = `
const strata = await import(process.env.DIST);
const { store: root, manifests, configs } = JSON.parse(process.env.JOB);
const store = await strata.ImageStore.open(root);
for (const [i, manifest] of manifests.entries()) {
  const backend = new strata.OciRuntimeBackend(manifest.class, configs[i]);
  const prepared = await backend.prepare(manifest, { store });
  console.log(prepared.bundle.dir);
}
throw new Error('crash without cleanup');
`;

describe.skipIf(!ready)('oci-runtime: an exiting process cleans up what it left', () => {
  it('an uncaught exception after prepare on runc, crun and runsc leaves no bundle, mount or container', async () => {
    const { image } = await busybox();
    const classes = ['runc', 'crun', 'runsc'] as const;
    const job = { store: image.store.root, manifests: classes.map((cls, i) => busyboxManifest(cls, image, (['overlay', 'tmpfs', 'readonly'] as const)[i]!)), configs: await Promise.all(classes.map((cls) => runtimeConfig(cls))) };
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DIST: dist, JOB: JSON.stringify(job) } });
    expect(r.stderr).toContain('crash without cleanup');
    const bundles = r.stdout.trim().split('\n');
    expect(bundles).toHaveLength(3);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`strata-oci-${String(r.pid)}-`))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`strata-oci-${String(r.pid)}-`);
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    for (const dir of bundles) expect(ps).not.toContain(dir);
  });
});
