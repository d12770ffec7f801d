import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchToken, parseChallenges, parseCredentials } from '../../src/oci/auth.js';
import { BlobStore } from '../../src/oci/blob-store.js';
import type { Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/manifest.js';
import { RegistryClient } from '../../src/oci/registry.js';
import { closeServer, freePort } from '../support/registry.js';

// The registry client against fake registries made with node:http, so each
// protocol step (challenge, token, redirect, tampered bytes) is under the
// test's control. test/e2e/registry.test.ts runs the real registry.

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;
interface Fake {
  host: string;
  url: string;
  requests: { path: string; authorization: string | undefined; accept: string | undefined }[];
  handle: Handler;
}

const fakes: { close(): Promise<void> }[] = [];
async function fakeRegistry(handle: Handler): Promise<Fake> {
  const fake: Fake = { host: '', url: '', requests: [], handle };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    fake.requests.push({ path: url.pathname + url.search, authorization: req.headers.authorization, accept: req.headers.accept });
    fake.handle(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fake.host = `127.0.0.1:${port}`;
  fake.url = `http://${fake.host}`;
  fakes.push({ close: () => closeServer(server) });
  return fake;
}

const sha = (bytes: Uint8Array | string): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: sha('{}'), size: 2 }, layers: [] }));
const manifestDigest = sha(manifestBytes);
const blob = Buffer.from('layer bytes '.repeat(1000));
const blobDigest = sha(blob);

/** Serves one manifest (tag `v1` or its digest) and one blob. */
const serveImage: Handler = (_req, res, url) => {
  if (url.pathname === '/v2/repo/manifests/v1' || url.pathname === `/v2/repo/manifests/${manifestDigest}`) {
    res.writeHead(200, { 'Content-Type': MediaType.ociManifest, 'Docker-Content-Digest': manifestDigest }).end(manifestBytes);
  } else if (url.pathname === `/v2/repo/blobs/${blobDigest}`) {
    res.writeHead(200, { 'Content-Length': blob.length }).end(blob);
  } else {
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
  }
};

let storeRoot: string;
let store: BlobStore;
beforeAll(async () => {
  storeRoot = mkdtempSync(join(tmpdir(), 'strata-registry-test-'));
  store = await BlobStore.open(storeRoot);
});
afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});
afterAll(() => rmSync(storeRoot, { recursive: true, force: true }));

describe('parseChallenges', () => {
  const cases: [string, string, { scheme: string; params: Record<string, string> }[]][] = [
    [
      'a Bearer challenge',
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' } }],
    ],
    ['Basic', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['a scope with a comma inside quotes', 'Bearer realm="r",scope="repository:x:pull,push"', [{ scheme: 'bearer', params: { realm: 'r', scope: 'repository:x:pull,push' } }]],
    ['two challenges', 'Basic realm="a", Bearer realm="b",service="s"', [{ scheme: 'basic', params: { realm: 'a' } }, { scheme: 'bearer', params: { realm: 'b', service: 's' } }]],
    ['unquoted values and escapes', 'Bearer realm=tok, error="in\\"valid"', [{ scheme: 'bearer', params: { realm: 'tok', error: 'in"valid' } }]],
    ['an empty header', '', []],
  ];
  it.each(cases)('%s', (_name, header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });
});

describe('parseCredentials', () => {
  it('splits at the first colon', () => {
    expect(parseCredentials('user:pa:ss', '--creds')).toEqual({ username: 'user', password: 'pa:ss' });
  });
  it('refuses text without a user', () => {
    expect(() => parseCredentials(':x', '--creds')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('RegistryClient', () => {
  it('asks for every manifest type it reads, and returns the verified digest', async () => {
    const fake = await fakeRegistry(serveImage);
    const client = new RegistryClient(fake.host, { insecure: true });
    const got = await client.getManifest('repo', 'v1');
    expect(got.digest).toBe(manifestDigest);
    expect(got.mediaType).toBe(MediaType.ociManifest);
    for (const type of [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest]) expect(fake.requests[0]!.accept).toContain(type);
  });

  it('follows a Bearer challenge: fetches a token for the pull scope with the credentials, then retries', async () => {
    const tokens: { service: string | null; scope: string | null; authorization: string | undefined }[] = [];
    const fake = await fakeRegistry((req, res, url) => {
      if (url.pathname === '/token') {
        tokens.push({ service: url.searchParams.get('service'), scope: url.searchParams.get('scope'), authorization: req.headers.authorization });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"access_token":"T0KEN"}');
      } else if (req.headers.authorization !== 'Bearer T0KEN') {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${fake.url}/token",service="fake",scope="repository:repo:pull"` }).end();
      } else {
        serveImage(req, res, url);
      }
    });
    const client = new RegistryClient(fake.host, { insecure: true, credentials: { username: 'u', password: 'p' } });
    await client.getManifest('repo', 'v1');
    await client.fetchBlob('repo', { mediaType: MediaType.ociLayer, digest: blobDigest, size: blob.length }, store);
    expect(tokens).toEqual([{ service: 'fake', scope: 'repository:repo:pull', authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }]);
    expect(await store.has(blobDigest)).toBe(true);
  });

  it('answers a Basic challenge with the credentials, and says how to give them when there are none', async () => {
    const good = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
    const fake = await fakeRegistry((req, res, url) => {
      if (req.headers.authorization !== good) res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end();
      else serveImage(req, res, url);
    });
    await expect(new RegistryClient(fake.host, { insecure: true, credentials: { username: 'alice', password: 'secret' } }).getManifest('repo', 'v1')).resolves.toMatchObject({ digest: manifestDigest });
    await expect(new RegistryClient(fake.host, { insecure: true }).getManifest('repo', 'v1')).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH', message: expect.stringMatching(/--creds/) });
    await expect(new RegistryClient(fake.host, { insecure: true, credentials: { username: 'alice', password: 'wrong' } }).getManifest('repo', 'v1')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_AUTH',
      message: expect.stringMatching(/access denied as 'alice' \(HTTP 401/),
    });
  });

  it('reports a token server that refuses', async () => {
    const fake = await fakeRegistry((_req, res, url) => {
      if (url.pathname === '/token') res.writeHead(403).end('no');
      else res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${fake.url}/token",service="fake"` }).end();
    });
    await expect(new RegistryClient(fake.host, { insecure: true }).getManifest('repo', 'v1')).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH', message: expect.stringMatching(/refused a token.*HTTP 403/) });
  });

  it('refuses a token realm over plain HTTP unless insecure', async () => {
    const challenge = { scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/token' } };
    await expect(fetchToken({ challenge, scopes: [], insecure: false, fetch, registry: 'r' })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH', message: expect.stringMatching(/not https/) });
  });

  it('refuses a manifest whose bytes differ from Docker-Content-Digest, naming both digests', async () => {
    const claimed = sha('something else');
    const fake = await fakeRegistry((_req, res) => res.writeHead(200, { 'Content-Type': MediaType.ociManifest, 'Docker-Content-Digest': claimed }).end(manifestBytes));
    await expect(new RegistryClient(fake.host, { insecure: true }).getManifest('repo', 'v1')).rejects.toMatchObject({
      code: 'ERR_DIGEST_MISMATCH',
      message: expect.stringMatching(new RegExp(`says ${claimed} \\(Docker-Content-Digest\\), the bytes are ${manifestDigest}`)),
    });
  });

  it('refuses a manifest that is not the pinned digest', async () => {
    const pinned = sha('pinned');
    const fake = await fakeRegistry((_req, res) => res.writeHead(200, { 'Content-Type': MediaType.ociManifest }).end(manifestBytes));
    const error = await new RegistryClient(fake.host, { insecure: true }).getManifest('repo', pinned, { digest: pinned }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    expect((error as Error).message).toContain(pinned);
    expect((error as Error).message).toContain(manifestDigest);
  });

  it('refuses a manifest over 4 MiB', async () => {
    const fake = await fakeRegistry((_req, res) => res.writeHead(200, { 'Content-Type': MediaType.ociManifest }).end(Buffer.alloc(5 << 20, 0x20)));
    await expect(new RegistryClient(fake.host, { insecure: true }).getManifest('repo', 'v1')).rejects.toMatchObject({ code: 'ERR_BLOB_TOO_LARGE' });
  });

  it('stores nothing when a blob has the wrong bytes, and names both digests', async () => {
    const fake = await fakeRegistry((_req, res) => {
      const tampered = Buffer.from(blob);
      tampered[100] = tampered[100]! ^ 1;
      res.writeHead(200).end(tampered);
    });
    const error = await new RegistryClient(fake.host, { insecure: true }).fetchBlob('repo', { mediaType: MediaType.ociLayer, digest: sha('expected'), size: blob.length }, store).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    expect((error as Error).message).toMatch(new RegExp(`expected ${sha('expected')}, got sha256:[0-9a-f]{64}`));
    expect(await store.has(sha('expected'))).toBe(false);
    expect(readdirSync(join(storeRoot, 'tmp'))).toEqual([]);
  });

  it('stores nothing when a blob is longer than its descriptor says', async () => {
    const fake = await fakeRegistry(serveImage);
    await expect(new RegistryClient(fake.host, { insecure: true }).fetchBlob('repo', { mediaType: MediaType.ociLayer, digest: blobDigest, size: 10 }, store)).rejects.toMatchObject({ code: 'ERR_SIZE_MISMATCH' });
    expect(readdirSync(join(storeRoot, 'tmp'))).toEqual([]);
  });

  it('follows a blob redirect to another origin without sending the credentials there', async () => {
    const storage = await fakeRegistry((_req, res) => res.writeHead(200).end(blob));
    const fake = await fakeRegistry((req, res, url) => {
      if (req.headers.authorization === undefined) res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end();
      else if (url.pathname.includes('/blobs/')) res.writeHead(307, { Location: `${storage.url}/bucket/blob?sig=1` }).end();
      else serveImage(req, res, url);
    });
    const redirected = await BlobStore.open(mkdtempSync(join(tmpdir(), 'strata-redirect-')));
    await new RegistryClient(fake.host, { insecure: true, credentials: { username: 'u', password: 'p' } }).fetchBlob('repo', { mediaType: MediaType.ociLayer, digest: blobDigest, size: blob.length }, redirected);
    expect(await redirected.has(blobDigest)).toBe(true);
    expect(storage.requests).toEqual([{ path: '/bucket/blob?sig=1', authorization: undefined, accept: expect.anything() }]);
    rmSync(redirected.root, { recursive: true, force: true });
  });

  it('gives up after 5 redirects', async () => {
    const fake = await fakeRegistry((_req, res, url) => res.writeHead(302, { Location: `${url.pathname}x` }).end());
    await expect(new RegistryClient(fake.host, { insecure: true }).getManifest('repo', 'v1')).rejects.toMatchObject({ code: 'ERR_REGISTRY', message: expect.stringMatching(/more than 5 redirects/) });
  });

  it('maps 404s and other statuses to their codes', async () => {
    const fake = await fakeRegistry((_req, res, url) => {
      if (url.pathname.endsWith('/boom')) res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}');
      else serveImage(_req, res, url);
    });
    const client = new RegistryClient(fake.host, { insecure: true });
    await expect(client.getManifest('repo', 'nope')).rejects.toMatchObject({ code: 'ERR_MANIFEST_NOT_FOUND', message: expect.stringContaining(`${fake.host}/repo:nope`) });
    await expect(client.fetchBlob('repo', { mediaType: MediaType.ociLayer, digest: sha('x'), size: 1 }, store)).rejects.toMatchObject({ code: 'ERR_REGISTRY_BLOB_NOT_FOUND' });
    await expect(client.getManifest('repo', 'boom')).rejects.toMatchObject({ code: 'ERR_REGISTRY', message: expect.stringMatching(/HTTP 500: UNKNOWN disk on fire/) });
  });

  it('refuses a plain-HTTP registry without --insecure, saying so', async () => {
    const fake = await fakeRegistry(serveImage);
    await expect(new RegistryClient(fake.host).getManifest('repo', 'v1')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_INSECURE',
      message: `registry ${fake.host} speaks plain HTTP, not https; pass --insecure to allow it`,
    });
    expect(fake.requests.every((r) => r.path === '/v2/')).toBe(true);
  });

  it('says when a registry cannot be reached', async () => {
    const port = await freePort();
    await expect(new RegistryClient(`127.0.0.1:${port}`, { insecure: true }).ping()).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNREACHABLE', message: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('pings /v2/ through a challenge', async () => {
    const fake = await fakeRegistry((req, res, url) => {
      if (url.pathname === '/token') res.writeHead(200).end('{"token":"t"}');
      else if (req.headers.authorization !== 'Bearer t') res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${fake.url}/token",service="fake"` }).end();
      else res.writeHead(200).end('{}');
    });
    await expect(new RegistryClient(fake.host, { insecure: true }).ping()).resolves.toBeUndefined();
  });
});
