import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalManifestBytes, parseSnapshotManifest, snapshotDigest, snapshotMediaType, snapshotSchemaUrl, type SnapshotManifest } from '../../src/snapshot/index.js';
import { StrataError } from '../../src/errors.js';

/** The StrataError `fn` throws, checked to carry `code`. */
function expectCode(fn: () => unknown, code: string): StrataError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code, (error as Error).message).toBe(code);
    return error as StrataError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

const d = (c: string) => `sha256:${c.repeat(64)}` as const;

const valid: SnapshotManifest = {
  mediaType: snapshotMediaType,
  schemaVersion: 1,
  created: '2026-01-02T03:04:05.000Z',
  labels: { step: 'init' },
  parent: d('a'),
  image: { reference: 'oci:/img:v1', manifestDigest: d('b'), configDigest: d('c'), diffIDs: [d('d')] },
  root: { mode: 'overlay', limits: { maxBytes: 1 << 20, maxInodes: 100 } },
  mounts: [
    { type: 'tmpfs', target: '/tmp', size: 1024 },
    { type: 'bind', target: '/out', readonly: true },
    { type: 'volume', target: '/data', name: 'cache' },
    { type: 'identity', target: '/run/strata' },
  ],
  process: { args: ['/bin/tool', 'x'], env: ['PATH=/bin'], workdir: '/' },
  class: 'wasm',
  backend: { assets: [{ name: 'node', version: '20.19.0', arch: { amd64: { path: '/usr/bin/node', sha256: 'e'.repeat(64) } } }], config: { anything: [1, 2] } },
  delta: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('f'), size: 10, diffID: d('0') }],
};

const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseSnapshotManifest', () => {
  it('accepts a manifest with every field, and gives it back as it was', () => {
    expect(parseSnapshotManifest(bytes(valid))).toEqual(valid);
  });

  it.each([
    ['a delta diffID that is not a digest', { delta: [{ ...valid.delta[0], diffID: 'sha256:xyz' }] }, '/delta/0/diffID'],
    ['an unknown root mode', { root: { mode: 'rw' } }, '/root/mode'],
    ['an unknown sandbox class', { class: 'docker' }, '/class'],
    ['a relative mount target', { mounts: [{ type: 'tmpfs', target: 'tmp' }] }, '/mounts/0/target'],
    ['identity files recorded', { mounts: [{ type: 'identity', target: '/run', files: { token: 'secret' } }] }, '/mounts/0'],
    ['an asset sha256 that is not hex', { backend: { assets: [{ name: 'n', version: '1', arch: { amd64: { path: '/n', sha256: 'nope' } } }], config: {} } }, '/backend/assets/0/arch/amd64/sha256'],
    ['a negative layer size', { delta: [{ ...valid.delta[0], size: -1 }] }, '/delta/0/size'],
    ['an unknown field', { extra: 1 }, "/: must NOT have additional properties 'extra'"],
    ['a missing delta', { delta: undefined }, 'delta'],
    ['a created time that is not a date-time', { created: 'yesterday' }, '/created'],
  ])('refuses %s with ERR_BAD_SNAPSHOT naming the field', (_name, patch, field) => {
    const error = expectCode(() => parseSnapshotManifest(bytes({ ...valid, ...patch })), 'ERR_BAD_SNAPSHOT');
    expect(error.message).toContain(field);
  });

  it('refuses bytes that are not JSON, or not an object', () => {
    expectCode(() => parseSnapshotManifest('{'), 'ERR_BAD_SNAPSHOT');
    expectCode(() => parseSnapshotManifest('[]'), 'ERR_BAD_SNAPSHOT');
  });

  it.each([
    ['a future version', { mediaType: 'application/vnd.strata.snapshot.v2+json', schemaVersion: 2 }],
    ['another schemaVersion', { schemaVersion: 2 }],
    ['no media type', { mediaType: undefined }],
    ['an image manifest', { mediaType: 'application/vnd.oci.image.manifest.v1+json' }],
  ])('refuses %s with ERR_SNAPSHOT_VERSION, before validating', (_name, patch) => {
    const error = expectCode(() => parseSnapshotManifest(bytes({ ...valid, ...patch, root: 'not even an object' })), 'ERR_SNAPSHOT_VERSION');
    expect(error.message).toContain(snapshotMediaType);
  });
});

describe('snapshotDigest', () => {
  it('is the sha256 of the canonical bytes: keys sorted, no whitespace, whatever the key order', () => {
    const { delta, mediaType, ...rest } = valid;
    const reordered = JSON.parse(JSON.stringify({ delta, ...rest, mediaType })) as SnapshotManifest;
    expect(Object.keys(reordered)[0]).toBe('delta');
    expect(snapshotDigest(reordered)).toBe(snapshotDigest(valid));
    const text = Buffer.from(canonicalManifestBytes(valid)).toString('utf8');
    expect(text).not.toMatch(/\s"|":\s/);
    expect(text.indexOf('"backend"')).toBeLessThan(text.indexOf('"class"'));
    expect(parseSnapshotManifest(canonicalManifestBytes(valid))).toEqual(valid);
  });

  it('changes with any field', () => {
    expect(snapshotDigest({ ...valid, labels: { step: 'other' } })).not.toBe(snapshotDigest(valid));
  });
});

describe('the published schema', () => {
  it('is draft-07 JSON at schemas/snapshot-manifest.v1.json and names the media type', () => {
    const schema = JSON.parse(readFileSync(snapshotSchemaUrl, 'utf8')) as { $schema: string; properties: { mediaType: { const: string } } };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.properties.mediaType.const).toBe(snapshotMediaType);
  });

  it('is in the published package files', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('schemas');
  });
});
