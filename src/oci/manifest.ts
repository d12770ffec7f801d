import { StrataError } from '../errors.js';
import { layerFormat } from './decompress.js';
import { parseDigest, type Digest } from './digest.js';

/**
 * Media types strata reads, OCI's and Docker's.
 * https://github.com/opencontainers/image-spec/blob/main/media-types.md
 * https://github.com/distribution/distribution/blob/main/docs/content/spec/manifest-v2-2.md
 */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  /** The wasm OCI artifact: https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/ */
  wasmConfig: 'application/vnd.wasm.config.v0+json',
  wasmLayer: 'application/wasm',
} as const;
export type MediaType = (typeof MediaType)[keyof typeof MediaType];

/** The media types a registry is asked for, in the order of preference. */
export const manifestAccept = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest] as const;

/** Manifests and configs are read into memory; anything bigger is refused (containerd's limit). */
export const maxManifestBytes = 4 << 20;

const configTypes: ReadonlySet<string> = new Set([MediaType.ociConfig, MediaType.dockerConfig, MediaType.wasmConfig]);

/** A platform, as image indexes and configs name it. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** A content descriptor. https://github.com/opencontainers/image-spec/blob/main/descriptor.md */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image manifest, OCI or Docker schema2 (same shape). */
export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image index, or a Docker manifest list. */
export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
}

/** The fields of an image config strata reads; the rest is kept as is. */
export interface ImageConfig {
  readonly os?: string;
  readonly architecture?: string;
  readonly variant?: string;
  readonly created?: string;
  /** The diffIDs of tar layers, in order. */
  readonly diffIDs?: readonly Digest[];
  /** The parsed JSON, whole. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Parse a manifest or an index. The `mediaType` field is authoritative (it is
 * covered by the digest); `contentType`, the HTTP header, is used only when the
 * field is absent, and the shape decides when both are.
 *
 * Errors: ERR_BAD_MANIFEST (not JSON, wrong schema, a bad descriptor; names
 * `what` and the field), ERR_UNSUPPORTED_MEDIA_TYPE (Docker schema1, or a
 * media type that is no manifest).
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, what: string): ImageManifest | ImageIndex {
  const json = parseJson(bytes, what);
  const declared = typeof json['mediaType'] === 'string' ? json['mediaType'] : contentType?.split(';')[0]?.trim();
  if (declared === MediaType.dockerSchema1 || declared === MediaType.dockerSchema1Signed || json['schemaVersion'] === 1) {
    throw new StrataError('ERR_UNSUPPORTED_MEDIA_TYPE', `${what} is a Docker schema1 manifest, which is deprecated and not supported`);
  }
  if (json['schemaVersion'] !== 2) throw badManifest(what, `schemaVersion is ${JSON.stringify(json['schemaVersion'])}, expected 2`);
  const isIndex =
    declared === MediaType.ociIndex || declared === MediaType.dockerManifestList
      ? true
      : declared === MediaType.ociManifest || declared === MediaType.dockerManifest
        ? false
        : Array.isArray(json['manifests']) && !('config' in json);
  if (declared !== undefined && declared !== '' && !isKnownManifestType(declared) && declared !== 'application/json' && declared !== 'text/plain') {
    throw new StrataError('ERR_UNSUPPORTED_MEDIA_TYPE', `${what} has media type '${declared}', which is not an image manifest or index`);
  }
  if (isIndex) {
    const manifests = json['manifests'];
    if (!Array.isArray(manifests)) throw badManifest(what, 'an index needs a "manifests" array');
    return {
      kind: 'index',
      mediaType: isKnownManifestType(declared) ? declared! : MediaType.ociIndex,
      manifests: manifests.map((m, i) => parseDescriptor(m, what, `manifests[${i}]`)),
    };
  }
  const layers = json['layers'];
  if (!Array.isArray(layers)) throw badManifest(what, 'a manifest needs a "layers" array');
  const config = parseDescriptor(json['config'], what, 'config');
  const annotations = parseAnnotations(json['annotations'], what, 'annotations');
  return {
    kind: 'manifest',
    mediaType: isKnownManifestType(declared) ? declared! : MediaType.ociManifest,
    config,
    layers: layers.map((l, i) => parseDescriptor(l, what, `layers[${i}]`)),
    ...(annotations !== undefined && { annotations }),
  };
}

function isKnownManifestType(type: string | undefined): boolean {
  return type === MediaType.ociIndex || type === MediaType.ociManifest || type === MediaType.dockerManifestList || type === MediaType.dockerManifest;
}

/**
 * Check a manifest's config and layer media types are ones strata reads.
 * Errors: ERR_UNSUPPORTED_MEDIA_TYPE (names the descriptor).
 */
export function checkMediaTypes(manifest: ImageManifest, what: string): void {
  if (!configTypes.has(manifest.config.mediaType)) {
    throw new StrataError('ERR_UNSUPPORTED_MEDIA_TYPE', `${what}: config media type '${manifest.config.mediaType}' is not an image or wasm config`);
  }
  manifest.layers.forEach((layer, i) => {
    try {
      layerFormat(layer.mediaType);
    } catch (error) {
      throw new StrataError('ERR_UNSUPPORTED_MEDIA_TYPE', `${what}: layers[${i}] (${layer.digest}): ${(error as Error).message}`);
    }
  });
}

/**
 * Parse an image config (OCI, Docker or the wasm artifact's).
 * Errors: ERR_BAD_MANIFEST (not JSON, or a bad diffID).
 * https://github.com/opencontainers/image-spec/blob/main/config.md
 */
export function parseConfig(bytes: Uint8Array, what: string): ImageConfig {
  const raw = parseJson(bytes, what);
  const str = (key: string) => (typeof raw[key] === 'string' ? { [key]: raw[key] as string } : {});
  const rootfs = raw['rootfs'];
  let diffIDs: Digest[] | undefined;
  if (rootfs !== undefined && rootfs !== null && typeof rootfs === 'object' && Array.isArray((rootfs as Record<string, unknown>)['diff_ids'])) {
    diffIDs = ((rootfs as Record<string, unknown>)['diff_ids'] as unknown[]).map((d, i) => {
      if (typeof d !== 'string') throw badManifest(what, `rootfs.diff_ids[${i}] is not a string`);
      try {
        return parseDigest(d, `${what} rootfs.diff_ids[${i}]`);
      } catch (error) {
        throw badManifest(what, (error as Error).message);
      }
    });
  }
  return { ...str('os'), ...str('architecture'), ...str('variant'), ...str('created'), ...(diffIDs !== undefined && { diffIDs }), raw };
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new StrataError('ERR_BAD_MANIFEST', `${what} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw badManifest(what, 'it is not a JSON object');
  return json as Record<string, unknown>;
}

function parseDescriptor(value: unknown, what: string, field: string): Descriptor {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badManifest(what, `${field} is not an object`);
  const d = value as Record<string, unknown>;
  if (typeof d['mediaType'] !== 'string' || d['mediaType'] === '') throw badManifest(what, `${field}.mediaType is missing`);
  if (typeof d['digest'] !== 'string') throw badManifest(what, `${field}.digest is missing`);
  let digest: Digest;
  try {
    digest = parseDigest(d['digest'], `${what} ${field}.digest`);
  } catch (error) {
    throw badManifest(what, (error as Error).message);
  }
  const size = d['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw badManifest(what, `${field}.size ${JSON.stringify(size)} is not a non-negative integer`);
  const platform = d['platform'] === undefined ? undefined : parsePlatformObject(d['platform'], what, `${field}.platform`);
  const annotations = parseAnnotations(d['annotations'], what, `${field}.annotations`);
  return {
    mediaType: d['mediaType'],
    digest,
    size,
    ...(platform !== undefined && { platform }),
    ...(annotations !== undefined && { annotations }),
  };
}

function parsePlatformObject(value: unknown, what: string, field: string): Platform {
  if (value === null || typeof value !== 'object') throw badManifest(what, `${field} is not an object`);
  const p = value as Record<string, unknown>;
  if (typeof p['os'] !== 'string' || typeof p['architecture'] !== 'string') throw badManifest(what, `${field} needs os and architecture`);
  return { os: p['os'], architecture: p['architecture'], ...(typeof p['variant'] === 'string' && p['variant'] !== '' && { variant: p['variant'] }) };
}

function parseAnnotations(value: unknown, what: string, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badManifest(what, `${field} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

function badManifest(what: string, why: string): StrataError {
  return new StrataError('ERR_BAD_MANIFEST', `${what} is not a valid manifest: ${why}`);
}

// ---- platforms ----

const archAliases: Readonly<Record<string, string>> = { x86_64: 'amd64', x64: 'amd64', aarch64: 'arm64', ia32: '386', i386: '386' };

/**
 * Parse `OS/ARCH[/VARIANT]`, e.g. `linux/arm64/v8` or `wasi/wasm`.
 * Errors: ERR_INVALID_OPTION.
 */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-zA-Z0-9._-]+$/.test(p))) {
    throw new StrataError('ERR_INVALID_OPTION', `platform '${text}' is not OS/ARCH[/VARIANT] (e.g. wasi/wasm, linux/amd64, linux/arm64/v8)`);
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  return { os: os.toLowerCase(), architecture: archAliases[arch.toLowerCase()] ?? arch.toLowerCase(), ...(variant !== undefined && { variant: variant.toLowerCase() }) };
}

/** `OS/ARCH[/VARIANT]`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}`;
}

/** The host's architecture in OCI's words (Node's `x64` is `amd64`). */
export function hostArchitecture(arch: string = process.arch): string {
  if (arch === 'ppc64') return 'ppc64le';
  return archAliases[arch] ?? arch;
}

/**
 * The platforms tried when none is asked for, best first: `wasi/wasm`
 * (which runs anywhere), then the host's `linux/ARCH`.
 */
export function defaultPlatforms(arch: string = process.arch): Platform[] {
  return [
    { os: 'wasi', architecture: 'wasm' },
    { os: 'linux', architecture: hostArchitecture(arch) },
  ];
}

/**
 * Whether `candidate` satisfies `wanted`. `wasi` also matches `wasip1` and
 * `wasip2`; a wanted platform without a variant matches any variant; arm64's
 * default variant is v8.
 */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  const os = candidate.os.toLowerCase();
  const osOk = os === wanted.os || (wanted.os === 'wasi' && /^wasip\d$/.test(os));
  const arch = archAliases[candidate.architecture.toLowerCase()] ?? candidate.architecture.toLowerCase();
  if (!osOk || arch !== wanted.architecture) return false;
  if (wanted.variant === undefined) return true;
  const normal = (v: string | undefined) => (arch === 'arm64' && (v === undefined || v === 'v8') ? 'v8' : v);
  return normal(wanted.variant) === normal(candidate.variant?.toLowerCase());
}

/**
 * Choose the manifest for a platform from an index: the first of `wanted`
 * (in order) that some entry matches. An index with a single entry and no
 * platform on it is taken as is.
 *
 * Errors: ERR_NO_MATCHING_PLATFORM (lists what the index offers).
 */
export function selectManifest(index: ImageIndex, wanted: readonly Platform[], what: string): Descriptor {
  const images = index.manifests.filter((m) => m.platform === undefined || m.platform.os !== 'unknown');
  for (const platform of wanted) {
    const hit = images.find((m) => m.platform !== undefined && platformMatches(platform, m.platform));
    if (hit !== undefined) return hit;
  }
  if (images.length === 1 && images[0]!.platform === undefined) return images[0]!;
  const offered = images.map((m) => (m.platform === undefined ? `(no platform: ${m.digest})` : formatPlatform(m.platform)));
  throw new StrataError(
    'ERR_NO_MATCHING_PLATFORM',
    `${what} has no image for ${wanted.map(formatPlatform).join(' or ')}; it has: ${offered.length > 0 ? offered.join(', ') : 'nothing'} (choose one with --platform)`,
  );
}
