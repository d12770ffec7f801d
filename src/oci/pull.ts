import { StrataError } from '../errors.js';
import type { Credentials } from './auth.js';
import type { BlobStore } from './blob-store.js';
import type { Digest } from './digest.js';
import { ImageStore, type ImageRecord, type LayerRecord } from './image-store.js';
import {
  checkMediaTypes,
  defaultPlatforms,
  formatPlatform,
  parseConfig,
  parseManifest,
  platformMatches,
  selectManifest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type Platform,
} from './manifest.js';
import { indexLayer } from './layer-index.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import { dockerArchiveSource } from './sources/docker-archive.js';
import { ociLayoutSource } from './sources/oci-layout.js';
import { registrySource } from './sources/registry.js';
import type { FetchedManifest, ImageSource } from './sources/source.js';

/** Options of {@link pull}. */
export interface PullOptions {
  /** The image store (default: the one at `defaultStoreRoot()`). */
  readonly store?: ImageStore;
  /** The platform to choose from an index; default `wasi/wasm`, then the host's `linux/ARCH`. */
  readonly platform?: Platform;
  /** Allow plain HTTP to the registry. */
  readonly insecure?: boolean;
  readonly credentials?: Credentials;
  /** Layers fetched at once (default 3). */
  readonly concurrency?: number;
  /** Index each layer after fetching it (default true). */
  readonly index?: boolean;
  /** Called as the pull progresses (for progress bars). */
  readonly onEvent?: (event: PullEvent) => void;
  /** Resolves relative `oci:` and `docker-archive:` paths. */
  readonly cwd?: string;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

/** What a pull reports as it goes, in this order (layer events interleave). */
export type PullEvent =
  /** The manifest and config are known; these layers will be fetched. */
  | { readonly type: 'resolved'; readonly reference: string; readonly manifestDigest: Digest; readonly platform?: Platform; readonly layers: readonly Descriptor[] }
  /** Bytes of a layer received so far. */
  | { readonly type: 'progress'; readonly digest: Digest; readonly bytes: number; readonly size: number }
  /** A layer is in the store: fetched now, or `cached` from before. */
  | { readonly type: 'fetched'; readonly digest: Digest; readonly size: number; readonly cached: boolean }
  /** A layer is indexed. */
  | { readonly type: 'indexed'; readonly digest: Digest; readonly diffID: Digest }
  /** The image is catalogued. */
  | { readonly type: 'done'; readonly image: ImageRecord; readonly durationMs: number };

/** Indexes nested deeper than this are refused (a loop, or nonsense). */
const maxIndexDepth = 4;

/**
 * Pull an image into the store: resolve the reference, choose the platform
 * from an index, fetch the config and layers (each verified by the blob
 * store as it is written; blobs already present are not fetched again),
 * index each layer, and catalogue the image under its canonical reference.
 *
 * Concurrent pulls, in one process or several, are safe: blobs are written
 * atomically under their digest, the catalogue is one file per reference,
 * and a pull holds a lease that keeps `gc` from sweeping until it is done.
 *
 * Errors, by stage: ERR_BAD_REFERENCE; the source's (ERR_REGISTRY_INSECURE,
 * ERR_REGISTRY_UNREACHABLE, ERR_REGISTRY_AUTH, ERR_MANIFEST_NOT_FOUND,
 * ERR_REGISTRY, ERR_BAD_IMAGE_LAYOUT); ERR_BAD_MANIFEST,
 * ERR_UNSUPPORTED_MEDIA_TYPE, ERR_NO_MATCHING_PLATFORM; ERR_SIZE_MISMATCH,
 * ERR_DIGEST_MISMATCH (names both digests; nothing is stored); the layer
 * index's errors (ERR_LAYER_*, ERR_TAR_*).
 *
 * @example
 * const image = await pull('127.0.0.1:5000/hello:latest', { insecure: true });
 * console.log(image.manifestDigest, image.layers.map((l) => l.diffID));
 */
export async function pull(reference: string | ImageReference, options: PullOptions = {}): Promise<ImageRecord> {
  const started = performance.now();
  const ref = typeof reference === 'string' ? parseReference(reference, options.cwd) : reference;
  const canonical = formatReference(ref);
  const images = options.store ?? (await ImageStore.open());
  const store = images.blobs;
  const emit = options.onEvent ?? (() => {});
  const lease = await images.lease(options.signal !== undefined ? { signal: options.signal } : {});
  const source = openSource(ref, options);
  try {
    const top = await source.root();
    await storeManifest(store, top);
    let fetched: FetchedManifest = top;
    let parsed = parseManifest(top.bytes, top.mediaType, `${canonical} (${top.digest})`);
    let indexDigest: Digest | undefined;
    let platform: Platform | undefined;
    for (let depth = 0; parsed.kind === 'index'; depth++) {
      if (depth >= maxIndexDepth) throw new StrataError('ERR_BAD_MANIFEST', `${canonical}: indexes nested more than ${maxIndexDepth} deep`);
      indexDigest ??= fetched.digest;
      const chosen = selectManifest(parsed, options.platform !== undefined ? [options.platform] : defaultPlatforms(), `${canonical} (index ${fetched.digest})`);
      platform = chosen.platform ?? platform;
      fetched = await source.manifest(chosen);
      await storeManifest(store, fetched);
      parsed = parseManifest(fetched.bytes, fetched.mediaType ?? chosen.mediaType, `${canonical} (${fetched.digest})`);
    }
    const manifest: ImageManifest = parsed;
    const what = `${canonical} (${fetched.digest})`;
    checkMediaTypes(manifest, what);

    if (!(await store.has(manifest.config.digest))) await source.fetchBlob(manifest.config, store);
    const config = parseConfig(await store.readVerified(manifest.config.digest), `config of ${what}`);
    platform ??= configPlatform(config);
    if (options.platform !== undefined && indexDigest === undefined && platform !== undefined && !platformMatches(options.platform, platform)) {
      throw new StrataError('ERR_NO_MATCHING_PLATFORM', `${what} is for ${formatPlatform(platform)}, not ${formatPlatform(options.platform)}; it has only that platform`);
    }
    const diffIDs = layerDiffIDs(manifest, config, what);
    emit({ type: 'resolved', reference: canonical, manifestDigest: fetched.digest, ...(platform !== undefined && { platform }), layers: manifest.layers });

    const layers = await mapConcurrently(manifest.layers, options.concurrency ?? 3, async (layer, i): Promise<LayerRecord> => {
      if (await store.has(layer.digest)) {
        emit({ type: 'fetched', digest: layer.digest, size: layer.size, cached: true });
      } else {
        await source.fetchBlob(layer, store, (bytes) => emit({ type: 'progress', digest: layer.digest, bytes, size: layer.size }));
        emit({ type: 'fetched', digest: layer.digest, size: layer.size, cached: false });
      }
      let diffID = diffIDs[i];
      if (options.index !== false) {
        diffID = await indexPulledLayer(store, layer, diffID);
        emit({ type: 'indexed', digest: layer.digest, diffID });
      }
      return {
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
        ...(diffID !== undefined && { diffID }),
        ...(layer.annotations !== undefined && { annotations: layer.annotations }),
      };
    });

    const image: ImageRecord = {
      reference: canonical,
      manifestDigest: fetched.digest,
      mediaType: manifest.mediaType,
      ...(indexDigest !== undefined && { indexDigest }),
      ...(platform !== undefined && { platform }),
      config: manifest.config,
      layers,
      size: fetched.bytes.length + manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0),
      ...(config.created !== undefined && { created: config.created }),
      pulledAt: new Date().toISOString(),
    };
    await images.put(image);
    emit({ type: 'done', image, durationMs: performance.now() - started });
    return image;
  } finally {
    await source.close();
    await lease.release();
  }
}

/**
 * The one place a pull indexes a layer: the layer index (layer-index.ts)
 * reads the stored blob, checks the diffID when one is known, and caches
 * the index by diffID. Returns the diffID.
 */
async function indexPulledLayer(store: BlobStore, layer: Descriptor, diffID: Digest | undefined): Promise<Digest> {
  const index = await indexLayer(store, {
    digest: layer.digest,
    mediaType: layer.mediaType,
    ...(diffID !== undefined && { diffID }),
    ...(layer.annotations !== undefined && { annotations: layer.annotations }),
  });
  index.close();
  return index.diffID;
}

/** The source a reference names. */
export function openSource(ref: ImageReference, options: Pick<PullOptions, 'insecure' | 'credentials' | 'fetch' | 'signal'> = {}): ImageSource {
  switch (ref.transport) {
    case 'oci':
      return ociLayoutSource(ref);
    case 'docker-archive':
      return dockerArchiveSource(ref);
    case 'registry':
      return registrySource(ref, {
        ...(options.insecure !== undefined && { insecure: options.insecure }),
        ...(options.credentials !== undefined && { credentials: options.credentials }),
        ...(options.fetch !== undefined && { fetch: options.fetch }),
        ...(options.signal !== undefined && { signal: options.signal }),
      });
  }
}

/** Keep a manifest or index in the store (its digest was checked by the source). */
async function storeManifest(store: BlobStore, manifest: FetchedManifest): Promise<void> {
  if (!(await store.has(manifest.digest))) await store.put(manifest.bytes, { digest: manifest.digest, size: manifest.bytes.length });
}

function configPlatform(config: ImageConfig): Platform | undefined {
  if (config.os === undefined || config.architecture === undefined || config.os === '' || config.architecture === '') return undefined;
  return { os: config.os, architecture: config.architecture, ...(config.variant !== undefined && config.variant !== '' && { variant: config.variant }) };
}

/**
 * The diffID of each layer, where known before indexing: the config's
 * `rootfs.diff_ids` for tar layers (which must be one per layer), and the
 * layer's own digest for a bare wasm layer.
 * Errors: ERR_BAD_MANIFEST (as many diffIDs as layers are needed).
 */
function layerDiffIDs(manifest: ImageManifest, config: ImageConfig, what: string): (Digest | undefined)[] {
  const wasm = manifest.layers.map((l) => l.mediaType === 'application/wasm');
  if (config.diffIDs !== undefined && wasm.every((w) => !w)) {
    if (config.diffIDs.length !== manifest.layers.length) {
      throw new StrataError('ERR_BAD_MANIFEST', `${what}: the config lists ${config.diffIDs.length} diffIDs for ${manifest.layers.length} layers`);
    }
    return [...config.diffIDs];
  }
  return manifest.layers.map((l, i) => (wasm[i] ? l.digest : undefined));
}

/**
 * `Promise.all(items.map(fn))` with at most `limit` running at once. After a
 * failure no new item starts, and the first error is thrown once the running
 * ones have settled (so nothing is still writing when the pull returns).
 */
async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
