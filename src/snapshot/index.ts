/**
 * Snapshots: the manifest (`application/vnd.strata.snapshot.v1+json`, its
 * published schema and canonical digest), delta layers written from sealed
 * overlays, and the snapshot store (commit, restore, list, inspect,
 * remove, export, import) in the image store's blob store.
 *
 * @example
 * import { SnapshotStore } from './snapshot/index.js';
 * const snapshots = await SnapshotStore.open();
 * const { digest } = await snapshots.commit({ image: record, root: { mode: 'overlay' }, delta: [sealedOverlay] });
 * const { layers } = await snapshots.restore(digest);
 */
export {
  snapshotMediaType,
  deltaLayerMediaType,
  SandboxClass,
  snapshotSchemaUrl,
  parseSnapshotManifest,
  canonicalManifestBytes,
  snapshotDigest,
} from './manifest.js';
export type { SnapshotManifest, SnapshotMount, SnapshotImage, SnapshotProcess, LayerDescriptor, BackendAsset } from './manifest.js';
export { writeDeltaLayer } from './delta.js';
export type { DeltaSource, DeltaOptions } from './delta.js';
export { SnapshotStore } from './store.js';
export type { CommitSource, CommitOptions, CommittedSnapshot } from './store.js';
export { readSnapshotManifest, readChain, restoreLayers, verifyDeltaLayer, maxChainLength } from './restore.js';
export type { RestoredSnapshot } from './restore.js';
export { exportSnapshot, snapshotAnnotation } from './export.js';
export type { ExportResult, SnapshotAnnotation } from './export.js';
export { importSnapshot } from './import.js';
