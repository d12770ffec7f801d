/**
 * OCI images: references, the registry client, manifests and platforms, the
 * verified blob store, the catalogue of pulled images, the layer index and
 * layer application.
 *
 * @example
 * import { pull, ImageStore, indexLayer, viewLayers } from './oci/index.js';
 * const images = await ImageStore.open();
 * const image = await pull('127.0.0.1:5000/tools/hello:1.0', { store: images, insecure: true });
 * const layers = await Promise.all(image.layers.map((l) => indexLayer(images.blobs, l)));
 * const root = viewLayers(layers, { dev: 1n });
 */

// References and where images come from.
export { parseReference, formatReference, defaultTag, dockerHub } from './reference.js';
export type { ImageReference, OciLayoutReference, DockerArchiveReference, RegistryReference } from './reference.js';
export { RegistryClient } from './registry.js';
export type { RegistryOptions, FetchedManifest } from './registry.js';
export { parseCredentials, credentialsFromEnv, credentialsEnv, parseChallenges } from './auth.js';
export type { Credentials, Challenge } from './auth.js';
export { ociLayoutSource, refNameAnnotation } from './sources/oci-layout.js';
export { dockerArchiveSource } from './sources/docker-archive.js';
export { registrySource } from './sources/registry.js';
export type { ImageSource } from './sources/source.js';

// Manifests and platforms.
export {
  MediaType,
  manifestAccept,
  maxManifestBytes,
  parseManifest,
  parseConfig,
  checkMediaTypes,
  parsePlatform,
  formatPlatform,
  defaultPlatforms,
  hostArchitecture,
  platformMatches,
  selectManifest,
} from './manifest.js';
export type { Descriptor, ImageManifest, ImageIndex, ImageConfig, Platform } from './manifest.js';

// Storage: blobs, the catalogue, pulling.
export { parseDigest, digestOf, digestHex } from './digest.js';
export type { Digest } from './digest.js';
export { BlobStore, defaultStoreRoot } from './blob-store.js';
export type { Expected, IngestOptions } from './blob-store.js';
export { ImageStore, derivedDirs, snapshotReferences, snapshotsDir } from './image-store.js';
export type { ImageRecord, LayerRecord, GcResult } from './image-store.js';
export type { StoreLock, LockOptions, LeaseOptions } from './store-lock.js';
export { chainKey, holdRootfsTree, rootfsCacheDir, rootfsCacheDirName, rootfsChainFile, rootfsChainText, rootfsEntryDir, rootfsTempDir, rootfsTreePath, sweepRootfsCache } from './rootfs-cache.js';
export type { RootfsSweep } from './rootfs-cache.js';
export { pull, openSource } from './pull.js';
export type { PullOptions, PullEvent } from './pull.js';

// Layers: formats, the tar reader, the index, application.
export { layerFormat, layerMediaTypes, decompress, sniffCompression, defaultMaxUncompressedBytes, maxZstdWindowBytes } from './decompress.js';
export type { LayerCompression, LayerFormat, DecompressOptions } from './decompress.js';
export { TarReader, TarType, readTarEntries, defaultTarLimits } from './tar.js';
export type { TarEntry, TarLimits } from './tar.js';
export { indexLayer, LayerIndex, layerDataPath, layerIndexPath, wasmLayerName } from './layer-index.js';
export type { LayerToIndex, IndexLayerOptions, IndexedEntry, IndexColumns } from './layer-index.js';
export { applyLayers, viewLayers } from './apply.js';
export type { ApplyOptions, ApplyResult } from './apply.js';
