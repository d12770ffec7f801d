/**
 * Issue 8, item 9: hostile `oci:` layouts. index.json as a symlink to
 * /dev/zero was read without bound; as a FIFO it hung the pull forever; a
 * blob symlinked to a host file leaked that file's size; a blob symlinked
 * to /dev/zero with a declared size of 3 GiB wrote 3 GiB into the store's
 * tmp/; a blob that is a directory crashed the CLI with EISDIR. Only
 * regular files inside the layout are read now, each bounded, and every
 * refusal is an ERR_BAD_IMAGE_LAYOUT naming the entry and nothing of the
 * host.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/errors.js';
import { ImageStore } from '../../src/oci/image-store.js';
import { MediaType } from '../../src/oci/manifest.js';
import { pull } from '../../src/oci/pull.js';
import { Layout, sha256 } from '../support/image-layout.js';
import { requireTool } from '../support/host-tool.js';
import { tempDir } from '../support/layer-trees.js';

let dir: string;
let images: ImageStore;

beforeEach(async () => {
  dir = tempDir('strata-layout-');
  images = await ImageStore.open(join(dir, 'store'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Pull, expecting a typed refusal; returns it. Fails after 5 s (a hang). */
async function refusal(ref: string): Promise<StrataError> {
  const error = await Promise.race([
    pull(ref, { store: images }).then(() => undefined, (e: unknown) => e),
    new Promise((resolve) => setTimeout(() => resolve(new Error('the pull hung')), 5_000).unref()),
  ]);
  expect(error).toBeInstanceOf(StrataError);
  expect(readdirSync(join(images.root, 'tmp')), 'nothing left in tmp/').toEqual([]);
  return error as StrataError;
}

/** A layout tagged v1 whose manifest is fine; returns the layout and its layer descriptor. */
async function layoutWithImage() {
  const layout = new Layout(join(dir, 'layout'));
  const manifest = await layout.image([{ f: 'x' }]);
  layout.tag(manifest, 'v1');
  return layout;
}

function replace(path: string, by: (path: string) => void): void {
  rmSync(path, { recursive: true, force: true });
  by(path);
}

/** The first layer blob of the tagged image. */
function firstLayerPath(layout: Layout): string {
  const blobs = join(layout.dir, 'blobs', 'sha256');
  const index = JSON.parse(String(execFileSync('cat', [join(layout.dir, 'index.json')]))) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(String(execFileSync('cat', [join(blobs, index.manifests[0]!.digest.slice(7))]))) as { layers: { digest: string }[] };
  return join(blobs, manifest.layers[0]!.digest.slice(7));
}

describe('hostile OCI layouts', () => {
  it('index.json as a symlink to /dev/zero is refused at once, not read', async () => {
    const layout = await layoutWithImage();
    replace(join(layout.dir, 'index.json'), (p) => symlinkSync('/dev/zero', p));
    const error = await refusal(`oci:${layout.dir}:v1`);
    expect(error.code).toBe('ERR_BAD_IMAGE_LAYOUT');
    expect(error.message).toMatch(/index\.json is a symlink/);
    expect(error.message).not.toContain('/dev/zero');
  });

  it('index.json as a FIFO is refused, not waited on', async () => {
    if (!requireTool('mkfifo')) return;
    const layout = await layoutWithImage();
    replace(join(layout.dir, 'index.json'), (p) => execFileSync('mkfifo', [p]));
    const error = await refusal(`oci:${layout.dir}:v1`);
    expect(error.code).toBe('ERR_BAD_IMAGE_LAYOUT');
    expect(error.message).toMatch(/index\.json is a FIFO/);
  });

  it("a blob that is a symlink to a host file is refused without revealing the file's size", async () => {
    const layout = await layoutWithImage();
    const host = join(dir, 'host-secret');
    writeFileSync(host, 'x'.repeat(12345));
    const layer = firstLayerPath(layout);
    replace(layer, (p) => symlinkSync(host, p));
    const error = await refusal(`oci:${layout.dir}:v1`);
    expect(error.code).toBe('ERR_BAD_IMAGE_LAYOUT');
    expect(error.message).toMatch(/is a symlink/);
    expect(error.message).not.toMatch(/12345|host-secret/);
  });

  it('a blob symlinked to /dev/zero with a declared size of 3 GiB writes nothing to the store', async () => {
    const layout = new Layout(join(dir, 'layout'));
    const config = layout.json({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [sha256('zero')] } }, MediaType.ociConfig);
    const zero = sha256('zero');
    symlinkSync('/dev/zero', join(layout.dir, 'blobs', 'sha256', zero.slice(7)));
    layout.tag(layout.json({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [{ mediaType: MediaType.ociLayerGzip, digest: zero, size: 3 * 2 ** 30 }] }, MediaType.ociManifest), 'v1');
    const error = await refusal(`oci:${layout.dir}:v1`);
    expect(error.code).toBe('ERR_BAD_IMAGE_LAYOUT');
    expect(statSync(join(images.root, 'tmp')).isDirectory()).toBe(true);
  });

  it('a blob that is a directory is a typed error, not an uncaught EISDIR', async () => {
    const layout = await layoutWithImage();
    replace(firstLayerPath(layout), (p) => mkdirSync(p));
    const error = await refusal(`oci:${layout.dir}:v1`);
    expect(error.code).toBe('ERR_BAD_IMAGE_LAYOUT');
    expect(error.message).toMatch(/is a directory/);
  });

  it('a manifest blob that is a symlink is refused too', async () => {
    const layout = await layoutWithImage();
    const blobs = join(layout.dir, 'blobs', 'sha256');
    const index = JSON.parse(String(execFileSync('cat', [join(layout.dir, 'index.json')]))) as { manifests: { digest: string }[] };
    const manifestPath = join(blobs, index.manifests[0]!.digest.slice(7));
    const copy = join(dir, 'manifest-copy');
    execFileSync('cp', [manifestPath, copy]);
    replace(manifestPath, (p) => symlinkSync(copy, p));
    expect((await refusal(`oci:${layout.dir}:v1`)).message).toMatch(/is a symlink/);
  });

  it('blobs/ as a symlink to a directory outside the layout is refused', async () => {
    const layout = await layoutWithImage();
    const outside = join(dir, 'outside-blobs');
    execFileSync('cp', ['-r', join(layout.dir, 'blobs'), outside]);
    replace(join(layout.dir, 'blobs'), (p) => symlinkSync(outside, p));
    const error = await refusal(`oci:${layout.dir}:v1`);
    expect(error.code).toBe('ERR_BAD_IMAGE_LAYOUT');
    expect(error.message).toMatch(/blobs is a symlink, not a directory/);
  });

  it('a blob larger than its declared size is a size mismatch, and the host size is not said', async () => {
    const layout = await layoutWithImage();
    const layer = firstLayerPath(layout);
    writeFileSync(layer, Buffer.alloc(77777));
    const error = await refusal(`oci:${layout.dir}:v1`);
    expect(error.code).toBe('ERR_SIZE_MISMATCH');
    expect(error.message).not.toContain('77777');
  });
});
