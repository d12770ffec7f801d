import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Digest } from '../../src/oci/digest.js';
import { MediaType, type Descriptor, type Platform } from '../../src/oci/manifest.js';
import { t, tar } from './tar-dsl.js';

/**
 * Hand-made OCI image layouts for tests that need no host tools: each
 * helper writes blobs under `blobs/sha256` and returns their descriptors, so
 * a test can build single images, indexes, wasm artifacts, or broken ones.
 */

export const sha256 = (bytes: Uint8Array | string): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A tar of regular files (path → content), as a layer holds them. */
export function tarOf(files: Readonly<Record<string, string | Uint8Array>>): Promise<Uint8Array> {
  return tar(...Object.entries(files).map(([name, content]) => t.file(name, content)));
}

/** An OCI layout being written. */
export class Layout {
  readonly dir: string;
  private readonly entries: Descriptor[] = [];

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    this.writeIndex();
  }

  /** Write a blob; returns its descriptor. */
  blob(bytes: Uint8Array | string, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const digest = sha256(data);
    writeFileSync(join(this.dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { mediaType, digest, size: data.length, ...extra };
  }

  /** Write a JSON blob. */
  json(value: unknown, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
    return this.blob(JSON.stringify(value), mediaType, extra);
  }

  /**
   * An image of gzipped tar layers (path → content each), with a config
   * for `platform` whose diff_ids match. Returns the manifest descriptor.
   */
  async image(layers: Readonly<Record<string, string | Uint8Array>>[], platform: Platform = { os: 'linux', architecture: 'amd64' }, options: { diffIDs?: Digest[] } = {}): Promise<Descriptor> {
    const tars = await Promise.all(layers.map((files) => tarOf(files)));
    const layerDescriptors = tars.map((tar) => this.blob(gzipSync(tar), MediaType.ociLayerGzip));
    const config = this.json(
      { created: '2024-01-02T03:04:05Z', ...platform, config: {}, rootfs: { type: 'layers', diff_ids: options.diffIDs ?? tars.map((t) => sha256(t)) } },
      MediaType.ociConfig,
    );
    return this.json({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: layerDescriptors }, MediaType.ociManifest, { platform });
  }

  /** A wasm OCI artifact: wasm config, one `application/wasm` layer titled `name`. */
  wasmArtifact(module: Uint8Array, name = 'module.wasm'): Descriptor {
    const layer = this.blob(module, MediaType.wasmLayer, { annotations: { 'org.opencontainers.image.title': name } });
    const config = this.json({ created: '2024-01-02T03:04:05Z', architecture: 'wasm', os: 'wasip1', layerDigests: [layer.digest] }, MediaType.wasmConfig);
    return this.json({ schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: MediaType.wasmConfig, config, layers: [layer] }, MediaType.ociManifest);
  }

  /** An image index of manifests (each with its platform). */
  index(manifests: Descriptor[]): Descriptor {
    return this.json({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }, MediaType.ociIndex);
  }

  /** Name a manifest or index in index.json. */
  tag(descriptor: Descriptor, tag: string): void {
    const { platform: _platform, ...plain } = descriptor;
    this.entries.push({ ...plain, annotations: { ...(descriptor.annotations ?? {}), 'org.opencontainers.image.ref.name': tag } });
    this.writeIndex();
  }

  private writeIndex(): void {
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: this.entries }));
  }
}
