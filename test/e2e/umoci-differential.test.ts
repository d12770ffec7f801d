import { spawnSync } from 'node:child_process';
import { chmodSync, createReadStream, linkSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyLayers, viewLayers } from '../../src/oci/apply.js';
import type { BlobStore } from '../../src/oci/blob-store.js';
import { parseDigest, type Digest } from '../../src/oci/digest.js';
import { indexLayer, type LayerIndex } from '../../src/oci/layer-index.js';
import { requireTool } from '../support/host-tool.js';
import { hostTree, project, tempDir, tempStore, viewTree, type Tree } from '../support/layer-trees.js';
import { t, tar } from '../support/tar-dsl.js';

/**
 * Differential test against umoci: images built with umoci (real
 * whiteouts from deleting files between repacks, an opaque directory from
 * a hand-made layer added with `umoci raw add-layer`, hardlinks, symlinks,
 * a file replacing a directory and back), then the tree the layer view
 * shows and the tree applyLayers writes are each compared with the tree
 * `umoci unpack --rootless` writes. One image is also converted to zstd
 * layers by skopeo, for real zstd data.
 */
const run = requireTool('umoci', 'skopeo');

function sh(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** What a tag of an OCI layout holds: its layers and the config's diffIDs (read directly, minimal). */
function readLayout(layout: string, tag: string): { layers: Array<{ digest: Digest; mediaType: string; size: number }>; diffIDs: Digest[] } {
  const blob = (d: string) => JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', parseDigest(d).slice(7)), 'utf8')) as Record<string, any>;
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (desc === undefined) throw new Error(`no tag ${tag} in ${layout}`);
  const manifest = blob(desc.digest);
  const config = blob(manifest['config'].digest);
  return { layers: manifest['layers'], diffIDs: config['rootfs'].diff_ids };
}

async function indexTag(store: BlobStore, layout: string, tag: string): Promise<LayerIndex[]> {
  const { layers, diffIDs } = readLayout(layout, tag);
  expect(layers.length).toBe(diffIDs.length);
  const out: LayerIndex[] = [];
  for (const [i, layer] of layers.entries()) {
    await store.ingest(createReadStream(join(layout, 'blobs', 'sha256', layer.digest.slice(7))), { digest: layer.digest, size: layer.size });
    out.push(await indexLayer(store, { digest: layer.digest, mediaType: layer.mediaType, diffID: diffIDs[i]! }));
  }
  return out;
}

/** The umoci-unpacked reference tree of a tag. */
function umociTree(layout: string, tag: string): Tree {
  const bundle = join(tempDir('strata-umoci-ref-'), 'bundle');
  sh('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle]);
  return hostTree(join(bundle, 'rootfs'));
}

// Ownership is compared only as root: a rootless unpack by another user
// owns everything itself, whatever the tar says.
const ignored = process.getuid?.() === 0 ? ([] as const) : (['uid', 'gid'] as const);

describe.runIf(run)('umoci differential', () => {
  let work: string;
  let layout: string;
  let zstdLayout: string;
  const tags = ['v1', 'v2', 'v3'];

  beforeAll(async () => {
    work = tempDir('strata-umoci-');
    layout = join(work, 'image');
    zstdLayout = join(work, 'image-zstd');
    const bundle = join(work, 'bundle');
    const rootfs = join(bundle, 'rootfs');
    const at = (p: string) => join(rootfs, p);
    const stamp = (p: string, s: number) => utimesSync(at(p), s, s);
    sh('umoci', ['init', '--layout', layout]);
    sh('umoci', ['new', '--image', `${layout}:base`]);
    sh('umoci', ['unpack', '--rootless', '--image', `${layout}:base`, bundle]);

    // v1: a little of everything.
    for (const d of ['etc', 'usr/bin', 'usr/lib/deep/er', 'var/cache/app', 'opt/dir-to-file', 'srv/data']) mkdirSync(at(d), { recursive: true });
    writeFileSync(at('etc/hosts'), '127.0.0.1 localhost\n');
    writeFileSync(at('etc/empty'), '');
    writeFileSync(at('usr/bin/tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    linkSync(at('usr/bin/tool'), at('usr/bin/tool-alias'));
    linkSync(at('usr/bin/tool'), at('usr/lib/tool-copy'));
    symlinkSync('tool', at('usr/bin/relative-link'));
    symlinkSync('/etc/hosts', at('etc/absolute-link'));
    symlinkSync('../nowhere', at('etc/dangling'));
    symlinkSync('usr/lib', at('lib'));
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(at('usr/lib/deep/er/blob.bin'), big);
    writeFileSync(at('var/cache/app/one'), 'one');
    writeFileSync(at('var/cache/app/two'), 'two');
    writeFileSync(at('opt/dir-to-file/inside'), 'inside');
    writeFileSync(at('opt/file-to-dir'), 'file');
    writeFileSync(at('opt/link-to-file'), 'target');
    symlinkSync('link-target', at('opt/symlink-replaced'));
    writeFileSync(at('srv/data/keep'), 'keep');
    writeFileSync(at('srv/data/drop'), 'drop');
    writeFileSync(at('unicode-é 空白'), 'names');
    chmodSync(at('etc/hosts'), 0o640);
    chmodSync(at('srv'), 0o750);
    stamp('etc/hosts', 1_600_000_000);
    stamp('usr/lib/deep/er', 1_600_000_100);
    sh('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:v1`, bundle]);

    // v2: deletions (whiteouts), type changes, edits.
    rmSync(at('var/cache/app'), { recursive: true });
    rmSync(at('srv/data/drop'));
    rmSync(at('opt/dir-to-file'), { recursive: true });
    writeFileSync(at('opt/dir-to-file'), 'now a file');
    rmSync(at('opt/file-to-dir'));
    mkdirSync(at('opt/file-to-dir'));
    writeFileSync(at('opt/file-to-dir/child'), 'child');
    rmSync(at('opt/symlink-replaced'));
    writeFileSync(at('opt/symlink-replaced'), 'regular now');
    rmSync(at('usr/lib/tool-copy'));
    writeFileSync(at('etc/hosts'), '127.0.0.1 localhost edited\n');
    chmodSync(at('usr/bin/tool'), 0o700);
    renameSync(at('etc/empty'), at('etc/moved'));
    sh('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:v2`, bundle]);

    // v3: a hand-made layer with an opaque directory, added verbatim.
    const layerTar = join(work, 'opaque.tar');
    writeFileSync(
      layerTar,
      await tar(t.dir('srv/'), t.dir('srv/data/', { mode: 0o700 }), t.opaque('srv/data'), t.file('srv/data/fresh', 'fresh', { mtime: 1_650_000_000 }), t.whiteout('usr/bin/relative-link'), t.whiteout('not/there')),
    );
    sh('umoci', ['raw', 'add-layer', '--image', `${layout}:v2`, '--tag', 'v3', layerTar]);

    sh('skopeo', ['copy', '--quiet', '--dest-compress-format', 'zstd', `oci:${layout}:v3`, `oci:${zstdLayout}:v3`]);
  });

  async function compare(source: string, tag: string, reference: Tree): Promise<void> {
    const store = await tempStore();
    const indexes = await indexTag(store, source, tag);
    const view = viewTree(viewLayers(indexes, { dev: 1n }).root);
    const target = tempDir('strata-apply-');
    await applyLayers(indexes, target);
    const applied = hostTree(target);
    for (const i of indexes) i.close();
    expect(project(view, ignored), `layer view of ${tag} vs umoci unpack`).toEqual(project(reference, ignored));
    expect(project(applied, ignored), `applyLayers of ${tag} vs umoci unpack`).toEqual(project(reference, ignored));
  }

  for (const tag of tags) {
    it(`${tag}: the layer view and applyLayers equal umoci unpack`, async () => {
      const reference = umociTree(layout, tag);
      expect(Object.keys(reference).length).toBeGreaterThan(10);
      await compare(layout, tag, reference);
    });
  }

  it('v3 holds what each step meant (whiteouts, opaque, type changes, hardlinks)', () => {
    const tree = umociTree(layout, 'v3');
    expect(tree['var/cache']).toBeDefined();
    expect(tree['var/cache/app']).toBeUndefined();
    expect(Object.keys(tree).filter((p) => p.startsWith('srv/data/'))).toEqual(['srv/data/fresh']);
    expect(tree['opt/dir-to-file']).toMatchObject({ type: 'file', content: 'now a file' });
    expect(tree['opt/file-to-dir']).toMatchObject({ type: 'directory' });
    expect(tree['usr/bin/tool']!.links).toEqual(['usr/bin/tool-alias']);
    expect(tree['usr/bin/relative-link']).toBeUndefined();
  });

  it('v3 with zstd layers (converted by skopeo) equals umoci unpack of the gzip image', async () => {
    const { layers } = readLayout(zstdLayout, 'v3');
    expect(layers.map((l) => l.mediaType)).toContain('application/vnd.oci.image.layer.v1.tar+zstd');
    await compare(zstdLayout, 'v3', umociTree(layout, 'v3'));
  });
});
