import { describe, expect, it } from 'vitest';
import {
  checkMediaTypes,
  defaultPlatforms,
  formatPlatform,
  MediaType,
  parseConfig,
  parseManifest,
  parsePlatform,
  platformMatches,
  selectManifest,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from '../../src/oci/manifest.js';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as const;
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const descriptor = (n: number, mediaType: string = MediaType.ociManifest, platform?: Platform): Descriptor => ({ mediaType, digest: d(n), size: n, ...(platform && { platform }) });

describe('parseManifest', () => {
  it('reads an OCI manifest', () => {
    const m = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: descriptor(1, MediaType.ociConfig), layers: [descriptor(2, MediaType.ociLayerGzip)] }), undefined, 'm');
    expect(m).toEqual({ kind: 'manifest', mediaType: MediaType.ociManifest, config: descriptor(1, MediaType.ociConfig), layers: [descriptor(2, MediaType.ociLayerGzip)] });
  });

  it('reads a Docker schema2 manifest and manifest list', () => {
    expect(parseManifest(json({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: descriptor(1, MediaType.dockerConfig), layers: [] }), undefined, 'm').kind).toBe('manifest');
    const list = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.dockerManifestList, manifests: [descriptor(3, MediaType.dockerManifest, { os: 'linux', architecture: 'amd64' })] }), undefined, 'l');
    expect(list).toMatchObject({ kind: 'index', mediaType: MediaType.dockerManifestList, manifests: [{ platform: { os: 'linux', architecture: 'amd64' } }] });
  });

  it('takes the type from Content-Type, then from the shape, when the field is absent', () => {
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] }), `${MediaType.ociIndex}; charset=utf-8`, 'x')).toMatchObject({ kind: 'index', mediaType: MediaType.ociIndex });
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] }), undefined, 'x')).toMatchObject({ kind: 'index' });
    expect(parseManifest(json({ schemaVersion: 2, config: descriptor(1, MediaType.ociConfig), layers: [] }), 'application/json', 'x')).toMatchObject({ kind: 'manifest', mediaType: MediaType.ociManifest });
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['not JSON', '{', 'ERR_BAD_MANIFEST', /m is not valid JSON/],
    ['an array', [], 'ERR_BAD_MANIFEST', /not a JSON object/],
    ['schema1', { schemaVersion: 1, name: 'x', fsLayers: [] }, 'ERR_UNSUPPORTED_MEDIA_TYPE', /Docker schema1/],
    ['schema1 by media type', { schemaVersion: 2, mediaType: MediaType.dockerSchema1Signed }, 'ERR_UNSUPPORTED_MEDIA_TYPE', /Docker schema1/],
    ['schemaVersion 3', { schemaVersion: 3, layers: [] }, 'ERR_BAD_MANIFEST', /schemaVersion is 3/],
    ['another media type', { schemaVersion: 2, mediaType: 'application/vnd.cncf.helm.chart.v1+json', layers: [] }, 'ERR_UNSUPPORTED_MEDIA_TYPE', /helm/],
    ['no layers', { schemaVersion: 2, mediaType: MediaType.ociManifest, config: descriptor(1) }, 'ERR_BAD_MANIFEST', /"layers" array/],
    ['a bad digest', { schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: 'sha256:XYZ', size: 1 }, layers: [] }, 'ERR_BAD_MANIFEST', /config\.digest 'sha256:XYZ' is not a sha256 digest/],
    ['a sha512 digest', { schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: `sha512:${'0'.repeat(128)}`, size: 1 }, layers: [] }, 'ERR_BAD_MANIFEST', /not a sha256 digest/],
    ['a negative size', { schemaVersion: 2, config: { ...descriptor(1), size: -1 }, layers: [] }, 'ERR_BAD_MANIFEST', /config\.size -1/],
    ['a fractional size', { schemaVersion: 2, config: descriptor(1), layers: [{ ...descriptor(2), size: 1.5 }] }, 'ERR_BAD_MANIFEST', /layers\[0\]\.size 1\.5/],
    ['a platform without os', { schemaVersion: 2, manifests: [{ ...descriptor(2), platform: { architecture: 'amd64' } }] }, 'ERR_BAD_MANIFEST', /manifests\[0\]\.platform needs os/],
  ];
  it.each(bad)('refuses %s', (_name, value, code, message) => {
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : json(value);
    expect(() => parseManifest(bytes, undefined, 'm')).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  });
});

describe('checkMediaTypes', () => {
  const manifest = (config: string, layer: string): ImageManifest => ({ kind: 'manifest', mediaType: MediaType.ociManifest, config: descriptor(1, config), layers: [descriptor(2, layer)] });
  it.each([
    [MediaType.ociConfig, MediaType.ociLayerZstd],
    [MediaType.dockerConfig, MediaType.dockerLayerGzip],
    [MediaType.wasmConfig, MediaType.wasmLayer],
    [MediaType.ociConfig, MediaType.ociLayer],
  ])('accepts config %s with layer %s', (config, layer) => {
    expect(() => checkMediaTypes(manifest(config, layer), 'm')).not.toThrow();
  });
  it('refuses an unknown config or layer type, naming it', () => {
    expect(() => checkMediaTypes(manifest('application/vnd.cncf.helm.config.v1+json', MediaType.ociLayer), 'm')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('helm') }));
    expect(() => checkMediaTypes(manifest(MediaType.ociConfig, 'application/x-foo'), 'm')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining(`layers[0] (${d(2)})`) }));
  });
});

describe('parseConfig', () => {
  it('reads platform, created and diffIDs, and keeps the rest', () => {
    const c = parseConfig(json({ os: 'linux', architecture: 'arm64', variant: 'v8', created: '2024-01-01T00:00:00Z', rootfs: { type: 'layers', diff_ids: [d(1)] }, config: { Entrypoint: ['/x'] } }), 'c');
    expect(c).toMatchObject({ os: 'linux', architecture: 'arm64', variant: 'v8', created: '2024-01-01T00:00:00Z', diffIDs: [d(1)], raw: { config: { Entrypoint: ['/x'] } } });
  });
  it('reads the wasm artifact config', () => {
    expect(parseConfig(json({ architecture: 'wasm', os: 'wasip2', layerDigests: [d(1)], component: { exports: [] } }), 'c')).toMatchObject({ os: 'wasip2', architecture: 'wasm' });
  });
  it('refuses a bad diffID', () => {
    expect(() => parseConfig(json({ rootfs: { diff_ids: ['sha256:nope'] } }), 'c')).toThrow(expect.objectContaining({ code: 'ERR_BAD_MANIFEST' }));
  });
});

describe('platforms', () => {
  it('parses OS/ARCH[/VARIANT] with aliases', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('Linux/AArch64/V8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(formatPlatform(parsePlatform('wasi/wasm'))).toBe('wasi/wasm');
  });
  it.each(['linux', 'linux/', 'a/b/c/d', 'linux/am d64'])('refuses %j', (text) => {
    expect(() => parsePlatform(text)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(`'${text}'`) }));
  });
  it('defaults to wasi/wasm, then the host architecture', () => {
    expect(defaultPlatforms('x64')).toEqual([{ os: 'wasi', architecture: 'wasm' }, { os: 'linux', architecture: 'amd64' }]);
    expect(defaultPlatforms('arm64')).toEqual([{ os: 'wasi', architecture: 'wasm' }, { os: 'linux', architecture: 'arm64' }]);
  });
  const matches: [string, Platform, boolean][] = [
    ['wasi/wasm', { os: 'wasip1', architecture: 'wasm' }, true],
    ['wasi/wasm', { os: 'wasip2', architecture: 'wasm' }, true],
    ['wasip1/wasm', { os: 'wasi', architecture: 'wasm' }, false],
    ['linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }, true],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64' }, true],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v6' }, false],
    ['linux/amd64', { os: 'linux', architecture: 'x86_64' }, true],
    ['linux/amd64', { os: 'windows', architecture: 'amd64' }, false],
  ];
  it.each(matches)('%s matches %j: %s', (wanted, candidate, expected) => {
    expect(platformMatches(parsePlatform(wanted), candidate)).toBe(expected);
  });
});

describe('selectManifest', () => {
  const index = (manifests: Descriptor[]): ImageIndex => ({ kind: 'index', mediaType: MediaType.ociIndex, manifests });
  const linux = descriptor(1, MediaType.ociManifest, { os: 'linux', architecture: 'amd64' });
  const wasm = descriptor(2, MediaType.ociManifest, { os: 'wasi', architecture: 'wasm' });
  const attestation = descriptor(3, MediaType.ociManifest, { os: 'unknown', architecture: 'unknown' });

  it('takes the first wanted platform that the index has', () => {
    expect(selectManifest(index([linux, wasm]), defaultPlatforms('x64'), 'i')).toBe(wasm);
    expect(selectManifest(index([linux, attestation]), defaultPlatforms('x64'), 'i')).toBe(linux);
  });
  it('takes a lone entry without a platform', () => {
    const plain = descriptor(4);
    expect(selectManifest(index([plain]), defaultPlatforms(), 'i')).toBe(plain);
  });
  it('lists what there is when nothing matches, attestations left out', () => {
    expect(() => selectManifest(index([linux, attestation]), [parsePlatform('linux/arm64')], 'idx')).toThrow(
      expect.objectContaining({ code: 'ERR_NO_MATCHING_PLATFORM', message: 'idx has no image for linux/arm64; it has: linux/amd64 (choose one with --platform)' }),
    );
  });
});
