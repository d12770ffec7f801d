/**
 * The base of every error strata raises on purpose, outside the VFS.
 *
 * Each subclass carries a stable `code` (`ERR_*`) that callers can switch on;
 * the message names the offending item. `cause` keeps the underlying error.
 */
export class StrataError extends Error {
  /** Stable machine-readable code, e.g. `ERR_NOT_WASM`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StrataError';
    this.code = code;
  }
}

/** Every stable error code strata raises, with its meaning. */
export const ErrorCode = {
  /** The input is not a WebAssembly binary (bad magic or version). */
  notWasm: 'ERR_NOT_WASM',
  /** The module is a WebAssembly binary that fails to compile. */
  invalidWasm: 'ERR_INVALID_WASM',
  /** The module imports something the host does not provide. */
  unknownImport: 'ERR_UNKNOWN_IMPORT',
  /** The module does not export what a WASI command needs. */
  notWasiCommand: 'ERR_NOT_WASI_COMMAND',
  /** The module was to be a WASI reactor (`reactor: true`, `instantiate`, `initialize`) but exports `_start` or no memory. */
  notWasiReactor: 'ERR_NOT_WASI_REACTOR',
  /** `start` or `initialize` of a `sandbox.wasi()` facade that already started (node:wasi's code). */
  wasiAlreadyStarted: 'ERR_WASI_ALREADY_STARTED',
  /** The guest ran longer than its time limit and was stopped. */
  timeout: 'ERR_TIMEOUT',
  /** The guest trapped (unreachable, out-of-bounds access, stack overflow…). */
  guestTrap: 'ERR_GUEST_TRAP',
  /** An option passed by the caller is invalid. */
  invalidOption: 'ERR_INVALID_OPTION',
  /** A host-side file (module path, stdin file) could not be read. */
  hostFile: 'ERR_HOST_FILE',
  /** A path given by the caller does not exist or has the wrong type. */
  badPath: 'ERR_BAD_PATH',
  /** The guest wrote more output than the configured limit. */
  outputLimit: 'ERR_OUTPUT_LIMIT',
  /** A host error strata did not expect (a bug in strata); the message says what failed, never with a stack trace. */
  internal: 'ERR_INTERNAL',
  /** A pooled sandbox already has `maxProcessesPerSandbox` processes queued or running. */
  processLimit: 'ERR_PROCESS_LIMIT',
  /** A pooled process was killed before it ended by itself (its sandbox or pool closed, or `kill()`). */
  killed: 'ERR_KILLED',
  /** A pooled sandbox's home worker is gone (the pool closed, the thread failed, or a kill without node:inspector ended it). */
  workerLost: 'ERR_WORKER_LOST',
  /** A fork would stack more overlays than a root may have (a chain of forks that each wrote before forking). */
  forkTooDeep: 'ERR_FORK_TOO_DEEP',
  /** A WebAssembly component could not be transpiled for this host (the transpiler is missing, or refused the component). */
  componentTranspile: 'ERR_COMPONENT_TRANSPILE',

  // Images: references, registries, manifests, the image store.
  /** An image reference cannot be parsed; the message names it. */
  badReference: 'ERR_BAD_REFERENCE',
  /** The registry speaks plain HTTP and --insecure was not given (or a redirect would leave https). */
  registryInsecure: 'ERR_REGISTRY_INSECURE',
  /** The registry or its token server cannot be reached (refused, DNS, TLS, reset). */
  registryUnreachable: 'ERR_REGISTRY_UNREACHABLE',
  /** Authentication failed: no or wrong credentials, or the token server refused. */
  registryAuth: 'ERR_REGISTRY_AUTH',
  /** The registry answered an unexpected HTTP status; the message has its error code. */
  registry: 'ERR_REGISTRY',
  /** A blob the manifest names is not on the registry (HTTP 404). */
  registryBlobNotFound: 'ERR_REGISTRY_BLOB_NOT_FOUND',
  /** No manifest for that tag or digest (registry 404, or no such tag in a layout). */
  manifestNotFound: 'ERR_MANIFEST_NOT_FOUND',
  /** A manifest, index or config is not valid JSON of the right schema. */
  badManifest: 'ERR_BAD_MANIFEST',
  /** A manifest, config or layer media type strata does not read (e.g. Docker schema1). */
  unsupportedMediaType: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  /** An index has no image for the wanted platforms; the message lists what it has. */
  noMatchingPlatform: 'ERR_NO_MATCHING_PLATFORM',
  /** An OCI layout or docker archive is malformed or lacks a blob. */
  badImageLayout: 'ERR_BAD_IMAGE_LAYOUT',
  /** The image has not been pulled (inspect, rmi). */
  imageNotFound: 'ERR_IMAGE_NOT_FOUND',
  /** No kept sandbox has that name or id (cp, diff, rm), or an id prefix is ambiguous. */
  sandboxNotFound: 'ERR_SANDBOX_NOT_FOUND',
  /** The image store is locked: a gc is running, or pulls are while gc waits. */
  storeBusy: 'ERR_STORE_BUSY',
  /** Content does not match its digest; the message names both digests. Nothing is stored. */
  digestMismatch: 'ERR_DIGEST_MISMATCH',
  /** Content is not the size its descriptor says. Nothing is stored. */
  sizeMismatch: 'ERR_SIZE_MISMATCH',
  /** A blob or manifest is over its size limit. */
  blobTooLarge: 'ERR_BLOB_TOO_LARGE',
  /** A digest is not `sha256:` and 64 lowercase hex digits. */
  badDigest: 'ERR_BAD_DIGEST',
  /** A blob is not in the local store. */
  blobNotFound: 'ERR_BLOB_NOT_FOUND',

  // Layers: tar parsing, decompression, indexing, application.
  /** A tar header is malformed (bad checksum, bad number field). */
  tarHeader: 'ERR_TAR_HEADER',
  /** A tar stream ends inside a header or an entry's data. */
  tarTruncated: 'ERR_TAR_TRUNCATED',
  /** A pax or GNU long-name header is over its cap (1 MiB by default). */
  tarPaxTooLarge: 'ERR_TAR_PAX_TOO_LARGE',
  /** A tar feature strata does not read (e.g. GNU sparse files). */
  tarUnsupported: 'ERR_TAR_UNSUPPORTED',
  /** A compressed layer cannot be decompressed (bad magic, corrupt stream). */
  layerDecompress: 'ERR_LAYER_DECOMPRESS',
  /** A layer decompresses past its cap (8 GiB by default): a compression bomb. */
  layerTooLarge: 'ERR_LAYER_TOO_LARGE',
  /** The uncompressed layer's digest is not the config's diffID; the message names both. */
  diffIdMismatch: 'ERR_DIFFID_MISMATCH',
  /** An entry's path is over 4096 bytes, 1024 components or a 255-byte name. */
  layerPathTooLong: 'ERR_LAYER_PATH_TOO_LONG',
  /** A whiteout names nothing a layer can remove (`.wh.`, `.wh..`, `.wh...`). */
  layerBadWhiteout: 'ERR_LAYER_BAD_WHITEOUT',
  /** A hard link's target is missing or a directory. */
  layerHardlink: 'ERR_LAYER_HARDLINK',
  /** An entry needs a parent that is not a directory. */
  layerNotDir: 'ERR_LAYER_NOT_DIR',
  /** Resolving a parent directory meets a symlink loop. */
  layerSymlinkLoop: 'ERR_LAYER_SYMLINK_LOOP',
  /** Writing an entry to the host directory failed; the message names the entry. */
  layerApply: 'ERR_LAYER_APPLY',

  // Mounts: volumes, and applying an overlay bind's changes back to the host.
  /** No volume of that name in the store. */
  volumeNotFound: 'ERR_VOLUME_NOT_FOUND',
  /** A host path changed since the overlay bind was made (or an added path now exists); nothing was applied. */
  applyConflict: 'ERR_APPLY_CONFLICT',
  /** Writing a change back to the host failed, or would go through a symlink; the path is named. */
  applyFailed: 'ERR_APPLY_FAILED',

  // Snapshots: manifests, the snapshot store, restore.
  /** A snapshot manifest is not JSON or fails its schema; the message names the field. */
  badSnapshot: 'ERR_BAD_SNAPSHOT',
  /** A snapshot manifest has another media type or schema version than this strata reads. */
  snapshotVersion: 'ERR_SNAPSHOT_VERSION',
  /** No snapshot has that digest (or unique digest prefix) in the store. */
  snapshotNotFound: 'ERR_SNAPSHOT_NOT_FOUND',
  /** A snapshot cannot be removed while another snapshot's delta applies on top of it. */
  snapshotInUse: 'ERR_SNAPSHOT_IN_USE',

  // Backends: selection by sandbox class, and the host binaries they run (backend assets).
  /** No backend for that sandbox class here: not built yet (the message names the issue that builds it), or the host config does not enable it. */
  backendUnavailable: 'ERR_BACKEND_UNAVAILABLE',
  /** A backend asset's file hashes to another sha256 than its pin, or a snapshot records an asset the host does not configure alike; the message names the asset, the expected and the actual value. Nothing ran. */
  assetMismatch: 'ERR_ASSET_MISMATCH',
  /** A backend asset is not configured for this architecture, or its file cannot be read; the message names the asset and the path. Nothing ran. */
  assetMissing: 'ERR_ASSET_MISSING',
  /** The host config file (`$STRATA_HOME/host.json`, `--host-config FILE`) is unreadable, not JSON, or fails its schema; the message names the field. */
  badHostConfig: 'ERR_BAD_HOST_CONFIG',
  /** A sandbox host failed: an OCI runtime (runc, crun, runsc) creating, starting, checkpointing or restoring a container, or a microVM (qemu) booting, saving or restoring; the message has its stderr or console tail. */
  runtimeFailed: 'ERR_RUNTIME_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
