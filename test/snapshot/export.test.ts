import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/index.js';
import { Sandbox } from '../../src/sandbox/index.js';
import { SnapshotStore } from '../../src/snapshot/index.js';
import { codeOf } from '../support/error-code.js';
import { requireTool } from '../support/host-tool.js';
import { hostTree, project, tempDir, viewTree, type Tree } from '../support/layer-trees.js';
import { change, storeWithImage } from './support.js';

const run = requireTool('umoci', 'skopeo');

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function umociTree(layout: string, tag: string): Tree {
  const bundle = join(tempDir('strata-umoci-snap-'), 'bundle');
  sh('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle]);
  return hostTree(join(bundle, 'rootfs'));
}

// A rootless unpack by another user owns everything itself, whatever the tar says.
const ignored = process.getuid?.() === 0 ? ([] as const) : (['uid', 'gid'] as const);

/** A chain of two snapshots over the test image, and the sandbox whose tree the last one holds. */
async function chain() {
  const setup = await storeWithImage();
  const sandbox = await Sandbox.create({ image: setup.reference, store: setup.images, dev: false });
  await change(sandbox);
  const first = await sandbox.commit({ labels: { step: 'one' } });
  await sandbox.fs.writeFile('/second', 'two');
  await sandbox.fs.rm('/etc/new');
  const second = await sandbox.commit({ labels: { step: 'two' } });
  return { ...setup, sandbox, first, second, snapshots: new SnapshotStore(setup.images) };
}

describe.runIf(run)('export as an OCI image layout', () => {
  it('umoci unpacks the same tree as the restored sandbox, and the config runs the snapshot\'s process', async () => {
    const { images, snapshots, first, second, sandbox } = await chain();
    const layout = join(tempDir('strata-export-'), 'layout');
    const result = await snapshots.export(second.digest, layout, 'snap');
    expect(result.layers).toHaveLength(2 + 2);

    const restored = await Sandbox.create({ from: second.digest, store: images, dev: false });
    const expected = viewTree(restored.namespace.root);
    expect(expected).toEqual(viewTree(sandbox.namespace.root));
    expect(project(umociTree(layout, 'snap'), ignored)).toEqual(project(expected, ignored));

    const config = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', result.config.digest.slice(7)), 'utf8')) as {
      config: Record<string, unknown>;
      rootfs: { diff_ids: string[] };
      history: unknown[];
    };
    expect(config.config).toMatchObject({ Entrypoint: ['/bin/tool'], Env: ['PATH=/bin'], WorkingDir: '/' });
    expect(config.config['Cmd']).toBeUndefined();
    expect(config.rootfs.diff_ids).toEqual([...second.manifest.image!.diffIDs, first.manifest.delta[0]!.diffID, second.manifest.delta[0]!.diffID]);
    expect(config.history).toHaveLength(2);
  });

  it('skopeo copies the layout, and the copy unpacks to the same tree', async () => {
    const { snapshots, second } = await chain();
    const layout = join(tempDir('strata-export-'), 'layout');
    await snapshots.export(second.digest, layout, 'snap');
    const copy = join(tempDir('strata-skopeo-'), 'copy');
    sh('skopeo', ['copy', '--quiet', `oci:${layout}:snap`, `oci:${copy}:snap`]);
    const inspected = JSON.parse(sh('skopeo', ['inspect', '--raw', `oci:${copy}:snap`])) as { layers: unknown[] };
    expect(inspected.layers).toHaveLength(4);
    expect(project(umociTree(copy, 'snap'), ignored)).toEqual(project(umociTree(layout, 'snap'), ignored));
  });
});

describe('import', () => {
  it('brings an exported chain into another store, verified, with the same ids and tree', async () => {
    const { snapshots, second, first: firstSnapshot, sandbox } = await chain();
    const layout = join(tempDir('strata-export-'), 'layout');
    await snapshots.export(second.digest, layout, 'snap');
    const other = new SnapshotStore(await ImageStore.open(tempDir('strata-import-')));
    const imported = await other.import(layout, 'snap');
    expect(imported.digest).toBe(second.digest);
    expect((await other.list()).map((s) => s.digest)).toEqual([firstSnapshot.digest, second.digest]);
    const restored = await Sandbox.create({ from: second.digest, store: other.images, dev: false });
    expect(viewTree(restored.namespace.root)).toEqual(viewTree(sandbox.namespace.root));
  });

  it('refuses a layout whose delta layer changed: ERR_DIGEST_MISMATCH, and keeps nothing', async () => {
    const { snapshots, second } = await chain();
    const layout = join(tempDir('strata-export-'), 'layout');
    await snapshots.export(second.digest, layout, 'snap');
    const path = join(layout, 'blobs', 'sha256', second.manifest.delta[0]!.digest.slice(7));
    const bytes = readFileSync(path);
    bytes[20]! ^= 1;
    writeFileSync(path, bytes);
    const other = new SnapshotStore(await ImageStore.open(tempDir('strata-import-')));
    expect(await codeOf(other.import(layout, 'snap'))).toBe('ERR_DIGEST_MISMATCH');
    expect(await other.list()).toEqual([]);
  });

  it('refuses an image layout that is not a snapshot export', async () => {
    const { layoutDir } = await storeWithImage();
    const other = new SnapshotStore(await ImageStore.open(tempDir('strata-import-')));
    expect(await codeOf(other.import(layoutDir, 'v1'))).toBe('ERR_BAD_IMAGE_LAYOUT');
  });
});
