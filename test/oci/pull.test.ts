import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { applyLayers } from '../../src/oci/apply.js';
import { indexLayer, layerDataPath, layerIndexPath } from '../../src/oci/layer-index.js';
import { MediaType, parsePlatform } from '../../src/oci/manifest.js';
import { pull, type PullEvent } from '../../src/oci/pull.js';
import { guestBytes } from '../support/guests.js';
import { concat, endOfArchive, padded, rawHeader } from '../support/tar-dsl.js';
import { Layout, sha256, tarOf } from '../support/image-layout.js';

// pull() from hand-made OCI layouts and docker archives, so every case
// (indexes, platforms, wasm artifacts, tampering) needs no host tool.
// Registries are covered by test/oci/registry.test.ts (fakes) and
// test/e2e/registry.test.ts (the real one).

let dir: string;
let images: ImageStore;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-pull-'));
  images = await ImageStore.open(join(dir, 'store'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hello = guestBytes('hello');

describe('pull from an OCI layout', () => {
  it('stores, verifies, indexes and catalogues an image, reporting each step', async () => {
    const layout = new Layout(join(dir, 'layout'));
    const manifest = await layout.image([{ 'bin/hello.wasm': hello }, { 'etc/motd': 'hi\n' }]);
    layout.tag(manifest, 'v1');
    const events: PullEvent[] = [];
    const image = await pull(`oci:${layout.dir}:v1`, { store: images, onEvent: (e) => events.push(e) });

    expect(image).toMatchObject({ reference: `oci:${layout.dir}:v1`, manifestDigest: manifest.digest, mediaType: MediaType.ociManifest, platform: { os: 'linux', architecture: 'amd64' }, created: '2024-01-02T03:04:05Z' });
    expect(image.layers).toHaveLength(2);
    const tars = [await tarOf({ 'bin/hello.wasm': hello }), await tarOf({ 'etc/motd': 'hi\n' })];
    for (const [i, layer] of image.layers.entries()) {
      expect(layer.diffID).toBe(sha256(tars[i]!));
      expect(await images.blobs.has(layer.digest)).toBe(true);
      expect(existsSync(layerDataPath(images.blobs, layer.diffID!))).toBe(true);
      expect(existsSync(layerIndexPath(images.blobs, layer.diffID!))).toBe(true);
    }
    for (const digest of [manifest.digest, image.config.digest]) expect(await images.blobs.has(digest)).toBe(true);
    expect(await images.list()).toEqual([image]);

    const steps = events.map((e) => e.type).filter((t) => t !== 'progress');
    expect([steps[0], steps.at(-1)]).toEqual(['resolved', 'done']);
    expect(steps.slice(1, -1).sort()).toEqual(['fetched', 'fetched', 'indexed', 'indexed']);
    expect(events[0]).toMatchObject({ type: 'resolved', manifestDigest: manifest.digest });
    expect(events.at(-1)).toMatchObject({ type: 'done', image });
  });

  it('fetches nothing again on a second pull', async () => {
    const layout = new Layout(join(dir, 'layout'));
    layout.tag(await layout.image([{ a: 'a' }]), 'latest');
    await pull(`oci:${layout.dir}`, { store: images });
    const events: PullEvent[] = [];
    await pull(`oci:${layout.dir}`, { store: images, onEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.type === 'fetched')).toEqual([expect.objectContaining({ cached: true })]);
    expect(events.some((e) => e.type === 'progress')).toBe(false);
  });

  it('is safe when two pulls of the same image run at once', async () => {
    const layout = new Layout(join(dir, 'layout'));
    layout.tag(await layout.image([{ big: new Uint8Array(3 << 20).fill(7) }, { small: 's' }]), 'v1');
    const [a, b] = await Promise.all([pull(`oci:${layout.dir}:v1`, { store: images }), pull(`oci:${layout.dir}:v1`, { store: await ImageStore.open(images.root) })]);
    expect(a.manifestDigest).toBe(b.manifestDigest);
    expect(await images.list()).toHaveLength(1);
    for (const layer of a.layers) await expect(images.blobs.readVerified(layer.digest)).resolves.toBeInstanceOf(Uint8Array);
    expect(readdirSync(join(images.root, 'tmp'))).toEqual([]);
  });

  describe('choosing a platform from an index', () => {
    async function multi() {
      const layout = new Layout(join(dir, 'layout'));
      const linux = await layout.image([{ 'bin/tool': 'elf' }], { os: 'linux', architecture: 'amd64' });
      const arm = await layout.image([{ 'bin/tool': 'elf arm' }], { os: 'linux', architecture: 'arm64', variant: 'v8' });
      const wasm = await layout.image([{ 'app.wasm': hello }], { os: 'wasi', architecture: 'wasm' });
      const index = layout.index([linux, arm, wasm]);
      layout.tag(index, 'multi');
      return { layout, linux, arm, wasm, index };
    }

    it('prefers wasi/wasm by default, and records the index', async () => {
      const { layout, wasm, index } = await multi();
      const image = await pull(`oci:${layout.dir}:multi`, { store: images });
      expect(image).toMatchObject({ manifestDigest: wasm.digest, indexDigest: index.digest, platform: { os: 'wasi', architecture: 'wasm' } });
      expect(await images.blobs.has(index.digest)).toBe(true);
    });

    it('takes --platform, variant included', async () => {
      const { layout, linux, arm } = await multi();
      expect((await pull(`oci:${layout.dir}:multi`, { store: images, platform: parsePlatform('linux/amd64') })).manifestDigest).toBe(linux.digest);
      expect((await pull(`oci:${layout.dir}:multi`, { store: images, platform: parsePlatform('linux/aarch64') })).manifestDigest).toBe(arm.digest);
      expect((await pull(`oci:${layout.dir}:multi`, { store: images, platform: parsePlatform('linux/arm64/v8') })).manifestDigest).toBe(arm.digest);
    });

    it('lists what the index has when nothing matches', async () => {
      const { layout } = await multi();
      await expect(pull(`oci:${layout.dir}:multi`, { store: images, platform: parsePlatform('linux/s390x') })).rejects.toMatchObject({
        code: 'ERR_NO_MATCHING_PLATFORM',
        message: expect.stringMatching(/no image for linux\/s390x; it has: linux\/amd64, linux\/arm64\/v8, wasi\/wasm/),
      });
    });

    it('falls back to the host platform when there is no wasm image', async () => {
      const layout = new Layout(join(dir, 'layout'));
      const host = process.arch === 'arm64' ? 'arm64' : 'amd64';
      const other = host === 'arm64' ? 'amd64' : 'arm64';
      const mine = await layout.image([{ f: 'mine' }], { os: 'linux', architecture: host });
      const theirs = await layout.image([{ f: 'theirs' }], { os: 'linux', architecture: other });
      layout.tag(layout.index([theirs, mine]), 'latest');
      expect((await pull(`oci:${layout.dir}`, { store: images })).manifestDigest).toBe(mine.digest);
    });
  });

  it('refuses --platform that a single-platform image is not for', async () => {
    const layout = new Layout(join(dir, 'layout'));
    layout.tag(await layout.image([{ f: 'x' }], { os: 'linux', architecture: 'amd64' }), 'v1');
    await expect(pull(`oci:${layout.dir}:v1`, { store: images, platform: parsePlatform('wasi/wasm') })).rejects.toMatchObject({ code: 'ERR_NO_MATCHING_PLATFORM', message: expect.stringMatching(/is for linux\/amd64, not wasi\/wasm/) });
  });

  it('pulls a wasm OCI artifact (application/wasm layer, wasm config), its diffID the module digest', async () => {
    const layout = new Layout(join(dir, 'layout'));
    layout.tag(layout.wasmArtifact(hello, 'hello.wasm'), 'v1');
    const image = await pull(`oci:${layout.dir}:v1`, { store: images, platform: parsePlatform('wasi/wasm') });
    expect(image.config.mediaType).toBe(MediaType.wasmConfig);
    expect(image.platform).toEqual({ os: 'wasip1', architecture: 'wasm' });
    expect(image.layers).toEqual([{ digest: sha256(hello), size: hello.length, mediaType: 'application/wasm', diffID: sha256(hello), annotations: { 'org.opencontainers.image.title': 'hello.wasm' } }]);
  });

  it('accepts runwasi-style images and wasm artifacts: the module ends up a file of the image tree', async () => {
    const layout = new Layout(join(dir, 'layout'));
    layout.tag(await layout.image([{ 'app/hello.wasm': hello }], { os: 'wasi', architecture: 'wasm' }), 'runwasi');
    layout.tag(layout.wasmArtifact(hello, 'hello.wasm'), 'artifact');
    for (const [tag, path] of [['runwasi', 'app/hello.wasm'], ['artifact', 'hello.wasm']] as const) {
      const image = await pull(`oci:${layout.dir}:${tag}`, { store: images });
      const layers = await Promise.all(image.layers.map((l) => indexLayer(images.blobs, l)));
      const out = join(dir, `tree-${tag}`);
      mkdirSync(out);
      await applyLayers(layers, out);
      expect(readFileSync(join(out, path))).toEqual(Buffer.from(hello));
      for (const layer of layers) layer.close();
    }
  });

  it('stores nothing of a blob whose bytes were tampered with, naming both digests', async () => {
    const layout = new Layout(join(dir, 'layout'));
    const manifest = await layout.image([{ f: 'original' }]);
    layout.tag(manifest, 'v1');
    const { layers } = (await pull(`oci:${layout.dir}:v1`, { store: images, index: false }));
    await images.blobs.delete(layers[0]!.digest);
    writeFileSync(join(layout.dir, 'blobs', 'sha256', layers[0]!.digest.slice(7)), Buffer.alloc(layers[0]!.size, 1));
    const error = await pull(`oci:${layout.dir}:v1`, { store: images }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    expect((error as Error).message).toMatch(new RegExp(`expected ${layers[0]!.digest}, got sha256:[0-9a-f]{64}`));
    expect(await images.blobs.has(layers[0]!.digest)).toBe(false);
    expect(readdirSync(join(images.root, 'tmp'))).toEqual([]);
  });

  it('refuses a config whose diffIDs do not match the layers', async () => {
    const layout = new Layout(join(dir, 'layout'));
    const wrong = sha256('not the layer');
    layout.tag(await layout.image([{ f: 'x' }], undefined, { diffIDs: [wrong] }), 'v1');
    await expect(pull(`oci:${layout.dir}:v1`, { store: images })).rejects.toMatchObject({ code: 'ERR_DIFFID_MISMATCH', message: expect.stringContaining(wrong) });
    expect(await images.list()).toEqual([]);
    layout.tag(await layout.image([{ f: 'x' }], undefined, { diffIDs: [] }), 'short');
    await expect(pull(`oci:${layout.dir}:short`, { store: images })).rejects.toMatchObject({ code: 'ERR_BAD_MANIFEST', message: expect.stringMatching(/0 diffIDs for 1 layers/) });
  });

  const layoutErrors: [string, (layout: Layout) => Promise<string>, string, RegExp][] = [
    ['an unknown tag', async (l) => (l.tag(await l.image([{ f: 'x' }]), 'v1'), 'nope'), 'ERR_MANIFEST_NOT_FOUND', /no image tagged 'nope'.*its tags: v1/],
    ['no tag and several images', async (l) => (l.tag(await l.image([{ f: 'x' }]), 'a'), l.tag(await l.image([{ f: 'y' }]), 'b'), ''), 'ERR_BAD_REFERENCE', /2 images match; name one.*tags: a, b/],
    ['a manifest with an unknown layer type', async (l) => (l.tag(l.json({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: l.json({}, MediaType.ociConfig), layers: [l.blob('x', 'application/x-foo')] }, MediaType.ociManifest), 'v1'), 'v1'), 'ERR_UNSUPPORTED_MEDIA_TYPE', /application\/x-foo/],
    ['a missing blob', async (l) => (l.tag({ mediaType: MediaType.ociManifest, digest: sha256('gone'), size: 4 }, 'v1'), 'v1'), 'ERR_BAD_IMAGE_LAYOUT', /is missing/],
  ];
  it.each(layoutErrors)('fails with a typed error on %s', async (_name, build, code, message) => {
    const layout = new Layout(join(dir, 'layout'));
    const tag = await build(layout);
    await expect(pull(`oci:${layout.dir}${tag === '' ? '' : `:${tag}`}`, { store: images })).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  });

  it('says when a directory is not a layout', async () => {
    await expect(pull(`oci:${dir}`, { store: images })).rejects.toMatchObject({ code: 'ERR_BAD_IMAGE_LAYOUT', message: expect.stringMatching(/is not an OCI image layout/) });
  });
});

describe('pull from a docker archive', () => {
  /** A `docker save`-style archive: legacy `ID/layer.tar` symlinks to the real layer files, as skopeo writes. */
  async function archive(path: string, layers: Uint8Array[], options: { repoTags?: string[]; diffIDs?: string[] } = {}) {
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2024-01-02T03:04:05Z', rootfs: { type: 'layers', diff_ids: options.diffIDs ?? layers.map((l) => sha256(l)) } });
    const configName = `${sha256(config).slice(7)}.json`;
    const members: Uint8Array[] = [];
    const add = (name: string, content: Uint8Array | string) => {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      members.push(rawHeader({ name, size: bytes.length }), padded(bytes));
    };
    const names = layers.map((l) => `${sha256(l).slice(7)}.tar`);
    layers.forEach((l, i) => add(names[i]!, l));
    layers.forEach((_l, i) => members.push(rawHeader({ name: `legacy${i}/layer.tar`, type: '2', linkname: `../${names[i]}` })));
    add(configName, config);
    add('manifest.json', JSON.stringify([{ Config: configName, RepoTags: options.repoTags ?? ['docker.io/test/app:v1'], Layers: layers.map((_l, i) => `legacy${i}/layer.tar`) }]));
    writeFileSync(path, concat(...members, endOfArchive));
  }

  it('pulls its image, layers read in place by byte range', async () => {
    const layers = [await tarOf({ 'app.wasm': hello }), await tarOf({ 'etc/x': 'x' })];
    await archive(join(dir, 'app.tar'), layers);
    const image = await pull(`docker-archive:${join(dir, 'app.tar')}`, { store: images });
    expect(image).toMatchObject({ reference: `docker-archive:${join(dir, 'app.tar')}`, mediaType: MediaType.dockerManifest, platform: { os: 'linux', architecture: 'amd64' } });
    expect(image.layers.map((l) => [l.digest, l.diffID, l.mediaType])).toEqual(layers.map((l) => [sha256(l), sha256(l), MediaType.dockerLayer]));
    expect((await pull(`docker-archive:${join(dir, 'app.tar')}:test/app:v1`, { store: images })).manifestDigest).toBe(image.manifestDigest);
  });

  it('refuses a layer that is not its diffID, and an unknown name', async () => {
    const layer = await tarOf({ f: 'x' });
    await archive(join(dir, 'bad.tar'), [layer], { diffIDs: [sha256('other')] });
    await expect(pull(`docker-archive:${join(dir, 'bad.tar')}`, { store: images })).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH', message: expect.stringContaining(sha256('other')) });
    await archive(join(dir, 'ok.tar'), [layer]);
    await expect(pull(`docker-archive:${join(dir, 'ok.tar')}:other/name:v2`, { store: images })).rejects.toMatchObject({ code: 'ERR_BAD_REFERENCE', message: expect.stringMatching(/no image named 'other\/name:v2'.*docker.io\/test\/app:v1/) });
  });

  it('says when the file is not an archive', async () => {
    writeFileSync(join(dir, 'junk.tar'), 'not a tar at all'.repeat(64));
    await expect(pull(`docker-archive:${join(dir, 'junk.tar')}`, { store: images })).rejects.toMatchObject({ code: 'ERR_BAD_IMAGE_LAYOUT' });
  });
});
