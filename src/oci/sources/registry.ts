import type { BlobStore } from '../blob-store.js';
import type { Descriptor } from '../manifest.js';
import { formatReference, type RegistryReference } from '../reference.js';
import { RegistryClient, type FetchedManifest, type RegistryOptions } from '../registry.js';
import type { ImageSource } from './source.js';

/**
 * An image on a registry. The root manifest is fetched by digest when the
 * reference pins one (and checked against it), else by tag.
 */
export function registrySource(ref: RegistryReference, options: RegistryOptions = {}): ImageSource {
  const client = new RegistryClient(ref.registry, options);
  return {
    description: formatReference(ref),
    root(): Promise<FetchedManifest> {
      if (ref.digest !== undefined) return client.getManifest(ref.repository, ref.digest, { digest: ref.digest });
      return client.getManifest(ref.repository, ref.tag ?? 'latest');
    },
    manifest(descriptor: Descriptor): Promise<FetchedManifest> {
      return client.getManifest(ref.repository, descriptor.digest, { digest: descriptor.digest, size: descriptor.size });
    },
    fetchBlob(descriptor: Descriptor, store: BlobStore, onProgress?: (bytes: number) => void): Promise<void> {
      return client.fetchBlob(ref.repository, descriptor, store, onProgress);
    },
    async close(): Promise<void> {},
  };
}
