import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Sandbox } from '../../src/sandbox/index.js';
import { ImageStore, MediaType, pull, type ImageRecord } from '../../src/oci/index.js';
import { Layout, sha256 } from '../support/image-layout.js';
import { tempDir } from '../support/layer-trees.js';
import { t, tar, type TarItem } from '../support/tar-dsl.js';

/** The tree of the base image every snapshot test starts from: two layers with dirs, files, a hard link, symlinks, odd modes. */
export const baseLayers: TarItem[][] = [
  [
    t.dir('etc'),
    t.file('etc/motd', 'welcome\n'),
    t.file('etc/hosts', '127.0.0.1 localhost\n', { mode: 0o600 }),
    t.dir('bin'),
    t.file('bin/tool', 'tool v1', { mode: 0o755 }),
    t.link('bin/tool', 'bin/tool-alias'),
    t.symlink('/bin/tool', 'bin/t'),
    t.dir('var'),
    t.dir('var/lib'),
    t.file('var/lib/a', 'a'),
    t.file('var/lib/b', 'b'),
    t.dir('var/cache'),
    t.file('var/cache/x', 'cached'),
  ],
  [t.dir('usr'), t.dir('usr/share'), t.file('usr/share/doc', 'doc'), t.symlink('../share/doc', 'usr/share/doc-link')],
];

/** A fresh store holding the base image (pulled from an OCI layout), plus extra files in `bulk` bytes of a big file when asked. */
export async function storeWithImage(options: { bulkBytes?: number; files?: number } = {}): Promise<{ images: ImageStore; record: ImageRecord; reference: string; layoutDir: string }> {
  const work = tempDir('strata-snapshot-');
  const layout = new Layout(join(work, 'layout'));
  const layers = [...baseLayers];
  if (options.bulkBytes !== undefined || options.files !== undefined) {
    const extra: TarItem[] = [t.dir('bulk')];
    if (options.bulkBytes !== undefined) extra.push(t.file('bulk/blob', new Uint8Array(options.bulkBytes).map((_, i) => (i * 7919) & 0xff)));
    for (let i = 0; i < (options.files ?? 0); i++) extra.push(t.file(`bulk/f${i}`, `file ${i}`));
    layers.push(extra);
  }
  const tars = await Promise.all(layers.map((items) => tar(...items)));
  const descriptors = tars.map((bytes) => layout.blob(gzipSync(bytes), MediaType.ociLayerGzip));
  const config = layout.json(
    { created: '2024-01-02T03:04:05Z', os: 'linux', architecture: 'amd64', config: { Entrypoint: ['/bin/tool'], Env: ['PATH=/bin'], WorkingDir: '/' }, rootfs: { type: 'layers', diff_ids: tars.map((b) => sha256(b)) } },
    MediaType.ociConfig,
  );
  layout.tag(layout.json({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: descriptors }, MediaType.ociManifest), 'v1');
  const images = await ImageStore.open(join(work, 'store'));
  const reference = `oci:${layout.dir}:v1`;
  const record = await pull(reference, { store: images });
  return { images, record, reference, layoutDir: layout.dir };
}

/** The changes every round trip makes: adds, deletes, renames, hard links, symlinks, modes, an opaque dir, a times-only change. */
export async function change(sandbox: Sandbox): Promise<void> {
  const fs = sandbox.fs;
  await fs.writeFile('/etc/motd', 'changed\n');
  await fs.writeFile('/etc/new', 'new file', { mode: 0o600 });
  await fs.rm('/etc/hosts');
  await fs.rename('/var/lib/a', '/var/lib/a-renamed');
  await fs.rename('/usr/share', '/usr/shared');
  await fs.mkdir('/private', { mode: 0o700 });
  await fs.writeFile('/private/key', 'k', { mode: 0o400 });
  await fs.link('/private/key', '/private/key-link');
  await fs.link('/bin/tool', '/bin/tool-third');
  await fs.symlink('../etc/new', '/bin/new-link');
  await fs.rm('/var/cache', { recursive: true });
  await fs.mkdir('/var/cache');
  await fs.writeFile('/var/cache/fresh', 'fresh');
  await fs.utimes('/var/lib/b', 1_600_000_000, 1_600_000_000);
}
