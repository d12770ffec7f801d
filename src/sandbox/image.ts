import { ErrorCode, StrataError } from '../errors.js';
import { ImageStore, indexLayer, parseConfig, parseReference, pull, viewLayers, wasmLayerName, type ImageConfig, type ImageRecord, type LayerIndex, type PullEvent } from '../oci/index.js';
import type { LayerView } from '../vfs/index.js';

/** What an image's config says to run, and how (`config.Entrypoint`, `Cmd`, `Env`, `WorkingDir`). */
export interface ImageProcess {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** `KEY=VALUE` pairs, in order. */
  readonly env: readonly string[];
  /** Absolute working directory, `/` when the config has none. */
  readonly workdir: string;
}

/**
 * An image ready to back sandboxes: its record, its config and the merged
 * read-only view of its layers. One `Image` is shared, unchanged, by every
 * sandbox over it, so making a sandbox costs nothing in the image's size.
 */
export interface Image {
  readonly record: ImageRecord;
  readonly config: ImageConfig;
  readonly view: LayerView;
  readonly process: ImageProcess;
  /**
   * Files at the root that hold a wasm layer of a wasm OCI artifact
   * (`application/wasm` layers), in layer order: `/<title>`.
   */
  readonly wasmFiles: readonly string[];
}

/** Options of {@link openImage}. */
export interface OpenImageOptions {
  /** The image store. Default: `ImageStore.open()` ($STRATA_HOME, …). */
  readonly store?: ImageStore;
  /** Pull the image when it is not in the store (`missing`, the default, like `docker run`), or never. */
  readonly pull?: 'missing' | 'never';
  /** Passed to the pull: plain HTTP, credentials, platform, progress. */
  readonly insecure?: boolean;
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly onEvent?: (event: PullEvent) => void;
  /** Resolves relative `oci:` and `docker-archive:` paths. */
  readonly cwd?: string;
}

// One view per manifest digest and store, shared by every sandbox in this
// process. Views are immutable; the indexes they read through stay open.
const opened = new Map<string, Promise<Image>>();

/**
 * The image a reference names, from the local store, pulled first when it
 * is missing (unless `pull: 'never'`). Opening the same image again in this
 * process returns the same shared {@link Image}.
 *
 * Errors: ERR_BAD_REFERENCE; ERR_IMAGE_NOT_FOUND (`pull: 'never'`); every
 * error of `pull`; the layer errors of `indexLayer` and `viewLayers`
 * (ERR_LAYER_*), when the cached index is missing or damaged.
 */
export async function openImage(reference: string, options: OpenImageOptions = {}): Promise<Image> {
  const { store, record } = await resolveImage(reference, options);
  return imageFromRecord(store, record);
}

/**
 * The store and the record of the image a reference names, pulled first
 * when it is missing (unless `pull: 'never'`), without loading its layers:
 * what a worker pool's main thread needs, each worker then loading the
 * image itself ({@link imageFromRecord}).
 *
 * Errors: ERR_BAD_REFERENCE; ERR_IMAGE_NOT_FOUND (`pull: 'never'`); every
 * error of `pull`.
 */
export async function resolveImage(reference: string, options: OpenImageOptions = {}): Promise<{ store: ImageStore; record: ImageRecord }> {
  const store = options.store ?? (await ImageStore.open());
  const cwd = options.cwd ?? process.cwd();
  parseReference(reference, cwd); // ERR_BAD_REFERENCE before anything else
  let record: ImageRecord;
  try {
    [record] = (await store.find(reference, cwd)) as [ImageRecord];
  } catch (error) {
    if (!(error instanceof StrataError) || error.code !== ErrorCode.imageNotFound || options.pull === 'never') throw error;
    record = await pull(reference, {
      store,
      cwd,
      ...(options.insecure !== undefined && { insecure: options.insecure }),
      ...(options.credentials !== undefined && { credentials: options.credentials }),
      ...(options.onEvent !== undefined && { onEvent: options.onEvent }),
    });
  }
  return { store, record };
}

/**
 * The shared {@link Image} of a pulled record: its layer indexes (cached on
 * disk by diffID) merged into one read-only view, built once per process.
 */
export function imageFromRecord(store: ImageStore, record: ImageRecord): Promise<Image> {
  const key = `${store.root}\0${record.manifestDigest}`;
  let image = opened.get(key);
  if (image === undefined) {
    image = loadImage(store, record);
    opened.set(key, image);
    image.catch(() => opened.delete(key));
  }
  return image;
}

async function loadImage(store: ImageStore, record: ImageRecord): Promise<Image> {
  const config = parseConfig(await store.blobs.readVerified(record.config.digest), `config of ${record.reference}`);
  const indexes: LayerIndex[] = [];
  for (const layer of record.layers) {
    indexes.push(
      await indexLayer(store.blobs, {
        digest: layer.digest,
        mediaType: layer.mediaType,
        ...(layer.diffID !== undefined && { diffID: layer.diffID }),
        ...(layer.annotations !== undefined && { annotations: layer.annotations }),
      }),
    );
  }
  const view = viewLayers(indexes, { dev: 2n });
  const wasmFiles = record.layers.filter((l) => l.mediaType === 'application/wasm' || l.mediaType.endsWith('+wasm')).map((l) => `/${wasmLayerName(l)}`);
  return { record, config, view, process: imageProcess(config, record.reference), wasmFiles };
}

/**
 * The process an image config describes (`config.Entrypoint`, `Cmd`, `Env`,
 * `WorkingDir`), as `docker run` reads it.
 * Errors: ERR_BAD_MANIFEST (a field of the wrong type, naming it).
 */
export function imageProcess(config: ImageConfig, what: string): ImageProcess {
  const section = config.raw['config'];
  const c = section !== null && typeof section === 'object' && !Array.isArray(section) ? (section as Record<string, unknown>) : {};
  const strings = (field: string): string[] => {
    const value = c[field];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new StrataError(ErrorCode.badManifest, `config of ${what}: config.${field} is not an array of strings`);
    }
    return value as string[];
  };
  const workdir = c['WorkingDir'];
  if (workdir !== undefined && workdir !== null && typeof workdir !== 'string') {
    throw new StrataError(ErrorCode.badManifest, `config of ${what}: config.WorkingDir is not a string`);
  }
  return {
    entrypoint: strings('Entrypoint'),
    cmd: strings('Cmd'),
    env: strings('Env'),
    workdir: typeof workdir === 'string' && workdir.startsWith('/') ? workdir : `/${workdir ?? ''}`.replace(/\/+$/, '') || '/',
  };
}
