import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ErrorCode, StrataError } from '../errors.js';
import type { Digest } from '../oci/index.js';

/** The media type of a snapshot manifest, version 1. */
export const snapshotMediaType = 'application/vnd.strata.snapshot.v1+json';

/** The media type of a delta layer strata writes: a gzipped tar, as OCI image layers are. */
export const deltaLayerMediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Sandbox classes a manifest may name (one per host binary family). */
export const SandboxClass = {
  wasm: 'wasm',
  runsc: 'runsc',
  runc: 'runc',
  crun: 'crun',
  qemu: 'qemu',
  firecracker: 'firecracker',
} as const;
export type SandboxClass = (typeof SandboxClass)[keyof typeof SandboxClass];

/** One of the layers a snapshot adds: an OCI descriptor plus the digest of its uncompressed tar. */
export interface LayerDescriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly diffID: Digest;
}

/** A host binary a backend runs, pinned by sha256 per architecture (`amd64`, `arm64`…). */
export interface BackendAsset {
  readonly name: string;
  readonly version: string;
  readonly arch: Readonly<Record<string, { readonly path: string; readonly sha256: string }>>;
}

/**
 * A mount as a snapshot records it: its kind and place, never identity
 * contents or secrets, and a host path only when the committer asked
 * (`includeHostPaths`).
 */
export type SnapshotMount =
  | { readonly type: 'tmpfs'; readonly target: string; readonly size?: number; readonly inodes?: number }
  | { readonly type: 'bind' | 'overlay'; readonly target: string; readonly readonly?: boolean; readonly source?: string }
  | { readonly type: 'volume'; readonly target: string; readonly name: string; readonly readonly?: boolean }
  | { readonly type: 'identity'; readonly target: string };

/** The image a snapshot runs over. */
export interface SnapshotImage {
  readonly reference: string;
  readonly manifestDigest: Digest;
  readonly configDigest: Digest;
  readonly diffIDs: readonly Digest[];
}

/** The process a snapshot runs: argv, `KEY=VALUE` pairs, absolute working directory. */
export interface SnapshotProcess {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly workdir: string;
}

/**
 * A snapshot manifest (`application/vnd.strata.snapshot.v1+json`): what
 * is needed to restore a sandbox on any host. Its JSON Schema is
 * `schemas/snapshot-manifest.v1.json`; the sha256 of its canonical bytes
 * ({@link canonicalManifestBytes}) is the snapshot id.
 */
export interface SnapshotManifest {
  readonly mediaType: typeof snapshotMediaType;
  readonly schemaVersion: 1;
  /** ISO 8601. */
  readonly created: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The snapshot this one's delta applies on top of. */
  readonly parent?: Digest;
  /** The image under the whole chain; absent for a `tmpfs` root, whose first delta is its whole tree. */
  readonly image?: SnapshotImage;
  readonly root: { readonly mode: 'readonly' | 'overlay' | 'tmpfs'; readonly limits?: { readonly maxBytes?: number; readonly maxInodes?: number } };
  readonly mounts: readonly SnapshotMount[];
  readonly process?: SnapshotProcess;
  readonly class: SandboxClass;
  readonly backend: { readonly assets: readonly BackendAsset[]; readonly config: Readonly<Record<string, unknown>> };
  /** This snapshot's own layers, bottom first, over its parent's (or the image's). */
  readonly delta: readonly LayerDescriptor[];
}

/** Where the published schema lives: `schemas/` at the package root (from `src/snapshot` and `dist/snapshot` alike). */
export const snapshotSchemaUrl = new URL('../../schemas/snapshot-manifest.v1.json', import.meta.url);

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  if (validator === undefined) {
    // ajv and ajv-formats are CommonJS: their default export is the class / plugin.
    const require = createRequire(import.meta.url);
    const Ajv = (require('ajv') as { default: new (options: object) => { compile(schema: object): ValidateFunction } }).default;
    const addFormats = (require('ajv-formats') as { default: (ajv: object) => void }).default;
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(snapshotSchemaUrl, 'utf8')) as object);
  }
  return validator;
}

/**
 * Parse and validate a snapshot manifest's bytes against the published
 * schema. The media type and version are checked first, so a manifest of
 * another version is refused as such rather than as invalid.
 *
 * Errors: ERR_BAD_SNAPSHOT (not JSON, or not valid against the schema: the
 * field is named by its JSON pointer, e.g. `/delta/0/diffID`);
 * ERR_SNAPSHOT_VERSION (another media type or `schemaVersion`).
 */
export function parseSnapshotManifest(bytes: Uint8Array | string, what = 'snapshot manifest'): SnapshotManifest {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new StrataError(ErrorCode.badSnapshot, `${what} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new StrataError(ErrorCode.badSnapshot, `${what} is not a JSON object`);
  const { mediaType, schemaVersion } = value as { mediaType?: unknown; schemaVersion?: unknown };
  if (mediaType !== snapshotMediaType || schemaVersion !== 1) {
    throw new StrataError(
      ErrorCode.snapshotVersion,
      `${what} has media type ${JSON.stringify(mediaType)} and schemaVersion ${JSON.stringify(schemaVersion)}; this strata reads ${snapshotMediaType} with schemaVersion 1`,
    );
  }
  const check = validate();
  if (!check(value)) throw new StrataError(ErrorCode.badSnapshot, `${what} is invalid: ${describeError(check.errors ?? [])}`);
  return value as SnapshotManifest;
}

/** The most telling of ajv's errors, as `/field: message`: the deepest one, skipping `oneOf` summaries. */
function describeError(errors: readonly ErrorObject[]): string {
  const useful = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if');
  const pick = [...(useful.length > 0 ? useful : errors)].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  if (pick === undefined) return 'does not match the schema';
  const extra = pick.keyword === 'additionalProperties' ? ` '${String((pick.params as { additionalProperty?: string }).additionalProperty)}'` : pick.keyword === 'enum' || pick.keyword === 'const' ? ` (${JSON.stringify((pick.params as { allowedValues?: unknown; allowedValue?: unknown }).allowedValues ?? (pick.params as { allowedValue?: unknown }).allowedValue)})` : '';
  return `${pick.instancePath || '/'}: ${pick.message ?? pick.keyword}${extra}`;
}

/**
 * The canonical bytes of a manifest: JSON with every object's keys sorted
 * and no whitespace, so one manifest has one digest whoever wrote it.
 */
export function canonicalManifestBytes(manifest: SnapshotManifest): Uint8Array {
  return Buffer.from(canonicalJson(manifest), 'utf8');
}

/** The snapshot id: the sha256 of the manifest's canonical bytes. */
export function snapshotDigest(manifest: SnapshotManifest): Digest {
  return `sha256:${createHash('sha256').update(canonicalManifestBytes(manifest)).digest('hex')}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
