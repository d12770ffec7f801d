import type { BlobStore } from '../blob-store.js';
import type { Descriptor } from '../manifest.js';
import type { FetchedManifest } from '../registry.js';

/**
 * Where an image is pulled from: a registry, an OCI layout or a docker
 * archive. A source hands out manifests with their digests checked, and
 * streams blobs into a store, which verifies each one before keeping it.
 *
 * Lifecycle: `root()`, then `manifest()` for an index's entry if the root is
 * an index, then `fetchBlob()` for the config and each layer, then `close()`.
 */
export interface ImageSource {
  /** The reference, as said in messages. */
  readonly description: string;
  /** The manifest or index the reference names (its digest checked if the reference pins one). */
  root(): Promise<FetchedManifest>;
  /** A manifest an index names; its digest and size are checked against the descriptor. */
  manifest(descriptor: Descriptor): Promise<FetchedManifest>;
  /** Stream a blob into the store, which verifies digest and size. */
  fetchBlob(descriptor: Descriptor, store: BlobStore, onProgress?: (bytes: number) => void): Promise<void>;
  /** Release what the source holds (open files). */
  close(): Promise<void>;
}

export type { FetchedManifest };
