import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { ImageStore } from '../../src/oci/image-store.js';
import { MediaType, parsePlatform, type Descriptor } from '../../src/oci/manifest.js';
import { pull } from '../../src/oci/pull.js';
import { guestBytes } from '../support/guests.js';
import { requireTool } from '../support/host-tool.js';
import {
  buildImage,
  closeServer,
  makeSigningCert,
  pushBlob,
  pushImage,
  pushManifest,
  startRegistry,
  startTokenServer,
  tool,
  writeHtpasswd,
  type TestRegistry,
  type TokenServer,
} from '../support/registry.js';

// Pulls from Debian's docker-registry, started on 127.0.0.1 by the test,
// with images built by umoci and pushed by skopeo.

const hasTools = requireTool('docker-registry', 'skopeo', 'umoci');
const hasAuthTools = hasTools && requireTool('openssl', 'perl');
const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const hello = guestBytes('hello');

let work: string;
let layout: string;

/** The manifest descriptor a tag names in the layout. */
function layoutManifest(tag: string): Descriptor {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: (Descriptor & { annotations: Record<string, string> })[] };
  return index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === tag)!;
}

/** Run the built CLI; resolves with its status and output. */
function strata(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(() => {
  if (!hasTools) return;
  work = mkdtempSync(join(tmpdir(), 'strata-e2e-registry-'));
  layout = join(work, 'layout');
  buildImage(layout, 'wasm', { 'hello.wasm': hello, 'etc/motd': 'wasm image\n' }, { os: 'wasi', architecture: 'wasm' });
  buildImage(layout, 'linux', { 'bin/tool': 'not really an ELF\n' }, { os: 'linux', architecture: 'amd64' });
  // A multi-platform index over the two, tagged in the same layout.
  const manifests = [layoutManifest('linux'), layoutManifest('wasm')].map((m, i) => ({
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.size,
    platform: i === 0 ? { os: 'linux', architecture: 'amd64' } : { os: 'wasi', architecture: 'wasm' },
  }));
  const indexBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  const indexDigest = digestOf(indexBytes);
  writeFileSync(join(layout, 'blobs', 'sha256', indexDigest.slice(7)), indexBytes);
  const top = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: unknown[] };
  top.manifests.push({ mediaType: MediaType.ociIndex, digest: indexDigest, size: indexBytes.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } });
  writeFileSync(join(layout, 'index.json'), JSON.stringify(top));
});
afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!hasTools)('pulling from docker-registry', () => {
  let registry: TestRegistry;
  let storeDir: string;
  let images: ImageStore;
  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(layout, 'wasm', `${registry.host}/hello:wasm`);
    await pushImage(layout, 'linux', `${registry.host}/hello:linux`);
    await pushImage(layout, 'multi', `${registry.host}/hello:multi`, { all: true });
    storeDir = join(work, 'store');
    images = await ImageStore.open(storeDir);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pulls an image that skopeo pushed, verified and indexed, with its manifest digest unchanged', async () => {
    const started = performance.now();
    const image = await pull(`${registry.host}/hello:wasm`, { store: images, insecure: true });
    const ms = performance.now() - started;
    console.log(`pull of a small image (${image.layers.length} layer, ${image.size} bytes) from the local registry: ${ms.toFixed(0)} ms`);
    expect(image).toMatchObject({ reference: `${registry.host}/hello:wasm`, manifestDigest: layoutManifest('wasm').digest, platform: { os: 'wasi', architecture: 'wasm' } });
    expect(image.layers[0]!.diffID).toMatch(/^sha256:[0-9a-f]{64}$/);
    for (const layer of image.layers) await expect(images.blobs.readVerified(layer.digest)).resolves.toHaveLength(layer.size);
  });

  it('pulls by digest', async () => {
    const digest = layoutManifest('linux').digest;
    const image = await pull(`docker://${registry.host}/hello@${digest}`, { store: images, insecure: true });
    expect(image).toMatchObject({ reference: `${registry.host}/hello@${digest}`, manifestDigest: digest });
  });

  it('chooses the platform from a multi-platform index: wasi/wasm first, or --platform', async () => {
    const index = await pull(`${registry.host}/hello:multi`, { store: images, insecure: true });
    expect(index).toMatchObject({ manifestDigest: layoutManifest('wasm').digest, platform: { os: 'wasi', architecture: 'wasm' }, indexDigest: layoutManifest('multi').digest });
    const linux = await pull(`${registry.host}/hello:multi`, { store: images, insecure: true, platform: parsePlatform('linux/amd64') });
    expect(linux.manifestDigest).toBe(layoutManifest('linux').digest);
    await expect(pull(`${registry.host}/hello:multi`, { store: images, insecure: true, platform: parsePlatform('linux/riscv64') })).rejects.toMatchObject({
      code: 'ERR_NO_MATCHING_PLATFORM',
      message: expect.stringContaining('it has: linux/amd64, wasi/wasm'),
    });
  });

  it('pulls a Docker schema2 manifest and manifest list', async () => {
    tool('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${layout}:linux`, `docker://${registry.host}/docker:v2s2`]);
    const image = await pull(`${registry.host}/docker:v2s2`, { store: images, insecure: true });
    expect(image.mediaType).toBe(MediaType.dockerManifest);
    expect(image.layers.map((l) => l.mediaType)).toEqual([MediaType.dockerLayerGzip]);
    // A manifest list, pushed by hand: two Docker manifests skopeo already stored.
    const wasm = await pull(`${registry.host}/hello:wasm`, { store: images, insecure: true });
    tool('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${layout}:wasm`, `docker://${registry.host}/docker:wasm`]);
    const wasmDocker = await pull(`${registry.host}/docker:wasm`, { store: images, insecure: true });
    const list = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifestList,
      manifests: [
        { mediaType: MediaType.dockerManifest, digest: image.manifestDigest, size: (await images.blobs.readVerified(image.manifestDigest)).length, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: MediaType.dockerManifest, digest: wasmDocker.manifestDigest, size: (await images.blobs.readVerified(wasmDocker.manifestDigest)).length, platform: { os: 'wasi', architecture: 'wasm' } },
      ],
    };
    await pushManifest(registry.url, 'docker', 'list', MediaType.dockerManifestList, Buffer.from(JSON.stringify(list)));
    const chosen = await pull(`${registry.host}/docker:list`, { store: images, insecure: true });
    expect(chosen).toMatchObject({ manifestDigest: wasmDocker.manifestDigest, platform: { os: 'wasi', architecture: 'wasm' } });
    expect(wasm.manifestDigest).not.toBe(wasmDocker.manifestDigest);
  });

  it('pulls a wasm OCI artifact pushed through the distribution API', async () => {
    const layer = await pushBlob(registry.url, 'artifact', hello);
    const config = Buffer.from(JSON.stringify({ architecture: 'wasm', os: 'wasip1', layerDigests: [layer] }));
    const configDigest = await pushBlob(registry.url, 'artifact', config);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.wasmConfig, digest: configDigest, size: config.length },
      layers: [{ mediaType: MediaType.wasmLayer, digest: layer, size: hello.length, annotations: { 'org.opencontainers.image.title': 'hello.wasm' } }],
    };
    await pushManifest(registry.url, 'artifact', 'v1', MediaType.ociManifest, Buffer.from(JSON.stringify(manifest)));
    const image = await pull(`${registry.host}/artifact:v1`, { store: images, insecure: true });
    expect(image.layers).toEqual([{ digest: layer, size: hello.length, mediaType: MediaType.wasmLayer, diffID: layer, annotations: { 'org.opencontainers.image.title': 'hello.wasm' } }]);
  });

  it('pulls a docker-archive that skopeo wrote', async () => {
    const archive = join(work, 'hello.tar');
    tool('skopeo', ['copy', '--quiet', `oci:${layout}:wasm`, `docker-archive:${archive}:test/hello:wasm`]);
    const image = await pull(`docker-archive:${archive}`, { store: images });
    expect(image.mediaType).toBe(MediaType.dockerManifest);
    const fromRegistry = await pull(`${registry.host}/hello:wasm`, { store: images, insecure: true });
    expect(image.layers.map((l) => l.diffID)).toEqual(fromRegistry.layers.map((l) => l.diffID));
  });

  it('refuses plain HTTP without --insecure, saying how to allow it', async () => {
    await expect(pull(`${registry.host}/hello:wasm`, { store: images })).rejects.toMatchObject({ code: 'ERR_REGISTRY_INSECURE', message: expect.stringContaining('--insecure') });
  });

  it('says when a tag is not there', async () => {
    await expect(pull(`${registry.host}/hello:missing`, { store: images, insecure: true })).rejects.toMatchObject({ code: 'ERR_MANIFEST_NOT_FOUND', message: expect.stringContaining(`${registry.host}/hello:missing`) });
  });

  it('stores nothing when a proxy tampers with a layer, and names both digests', async () => {
    // A proxy in front of the registry that flips one byte of every blob body.
    const proxy = createServer((req, res) => {
      const upstream = request(`${registry.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: registry.host } }, (up) => {
        const tamper = req.url?.includes('/blobs/') === true && up.statusCode === 200;
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (tamper && body.length > 100) body[body.length - 100] = body[body.length - 100]! ^ 0xff;
          res.writeHead(up.statusCode ?? 502, up.headers).end(body);
        });
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    const fresh = await ImageStore.open(join(work, 'tamper-store'));
    try {
      const error = await pull(`127.0.0.1:${port}/hello:wasm`, { store: fresh, insecure: true }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
      expect((error as Error).message).toMatch(/expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}/);
      const wanted = /expected (sha256:[0-9a-f]{64})/.exec((error as Error).message)![1]!;
      expect(await fresh.blobs.has(wanted as `sha256:${string}`)).toBe(false);
      expect(readdirSync(join(fresh.root, 'tmp'))).toEqual([]);
      expect(await fresh.list()).toEqual([]);
    } finally {
      await closeServer(proxy);
    }
  });

  describe('the CLI', () => {
    const home = () => ({ STRATA_HOME: join(work, 'cli-store') });

    it('pulls with plain progress lines, then lists, inspects, removes and collects', async () => {
      const pulled = await strata(['pull', '--insecure', `${registry.host}/hello:multi`], home());
      expect(pulled.stderr).toBe('');
      expect(pulled.status).toBe(0);
      const digest = layoutManifest('wasm').digest;
      expect(pulled.stdout).toMatch(new RegExp(`^pulling ${registry.host}/hello:multi\\nresolved ${digest} \\(wasi/wasm\\), 1 layer, .*\\n`));
      expect(pulled.stdout).toMatch(/: fetched, .*\n/);
      expect(pulled.stdout).toMatch(/: indexed \(diffID sha256:[0-9a-f]{12}\)\n/);
      expect(pulled.stdout).toMatch(new RegExp(`pulled ${registry.host}/hello:multi ${digest} in \\d+\\.\\d\\d s\\n$`));

      const listed = await strata(['images'], home());
      expect(listed.stdout.split('\n')[0]).toMatch(/^REFERENCE\s+DIGEST\s+PLATFORM\s+SIZE\s+CREATED$/);
      expect(listed.stdout).toContain(`${registry.host}/hello:multi`);
      expect(listed.stdout).toContain(digest.slice(0, 19));

      const inspected = await strata(['inspect', `${registry.host}/hello:multi`], home());
      const json = JSON.parse(inspected.stdout) as Record<string, unknown>;
      expect(json).toMatchObject({ reference: `${registry.host}/hello:multi`, manifestDigest: digest, platform: { os: 'wasi', architecture: 'wasm' }, config: { mediaType: MediaType.ociConfig, content: { os: 'wasi' } } });
      expect(json['layers']).toEqual([expect.objectContaining({ mediaType: MediaType.ociLayerGzip, diffID: expect.stringMatching(/^sha256:/) })]);

      expect((await strata(['rmi', `${registry.host}/hello:multi`], home())).stdout).toBe(`removed ${registry.host}/hello:multi ${digest}\n`);
      const gc = await strata(['gc', '--json'], home());
      const freed = JSON.parse(gc.stdout) as { blobsRemoved: number; bytesFreed: number };
      expect(freed.blobsRemoved).toBe(4); // index, manifest, config, layer
      expect(freed.bytesFreed).toBeGreaterThan(0);
      expect((await strata(['images', '--json'], home())).stdout).toBe('[]\n');
    });

    it('runs two pulls of the same image at once, in two processes', async () => {
      const env = { STRATA_HOME: join(work, 'concurrent-store') };
      const [a, b] = await Promise.all([strata(['pull', '-q', '--insecure', `${registry.host}/hello:linux`], env), strata(['pull', '-q', '--insecure', `${registry.host}/hello:linux`], env)]);
      expect([a.status, b.status, a.stderr, b.stderr]).toEqual([0, 0, '', '']);
      expect(a.stdout).toBe(`${layoutManifest('linux').digest}\n`);
      expect(b.stdout).toBe(a.stdout);
      const store = await ImageStore.open(env.STRATA_HOME);
      for (const digest of await store.blobs.list()) await expect(store.blobs.readVerified(digest)).resolves.toBeInstanceOf(Uint8Array);
      expect(readdirSync(join(env.STRATA_HOME, 'tmp'))).toEqual([]);
    });

    it('takes --platform, and exits 1 with the code when a pull fails', async () => {
      const linux = await strata(['pull', '-q', '--insecure', '--platform', 'linux/amd64', `${registry.host}/hello:multi`], home());
      expect(linux.stdout).toBe(`${layoutManifest('linux').digest}\n`);
      const refused = await strata(['pull', `${registry.host}/hello:multi`], home());
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/^strata: ERR_REGISTRY_INSECURE: registry 127\.0\.0\.1:\d+ speaks plain HTTP, not https; pass --insecure to allow it\n$/);
    });

    it('draws a progress bar on a terminal', async () => {
      if (!requireTool('script')) return;
      const command = `${process.execPath} ${bin} pull --insecure ${registry.host}/hello:linux`;
      const r = tool('script', ['-qec', command, '/dev/null'], home());
      expect(r).toContain('\x1b[2K');
      expect(r).toMatch(/\x1b\[\d+A/);
      expect(r).toMatch(/total\s+\[=+\]/);
    });
  });
});

describe.skipIf(!hasAuthTools)('registries that need credentials', () => {
  let storeDir: string;
  beforeAll(() => {
    storeDir = join(work, 'auth-store');
  });

  it('Basic auth (htpasswd): pulls with --creds or $STRATA_REGISTRY_AUTH, refuses without', async () => {
    const htpasswd = join(work, 'htpasswd');
    writeHtpasswd(htpasswd, 'alice', 's3cret:pw');
    const registry = await startRegistry({ auth: { htpasswd } });
    try {
      await pushImage(layout, 'wasm', `${registry.host}/private:v1`, { creds: 'alice:s3cret:pw' });
      const store = await ImageStore.open(storeDir);
      await expect(pull(`${registry.host}/private:v1`, { store, insecure: true })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH', message: expect.stringContaining('--creds') });
      await expect(pull(`${registry.host}/private:v1`, { store, insecure: true, credentials: { username: 'alice', password: 'wrong' } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH', message: expect.stringContaining("as 'alice'") });
      await expect(pull(`${registry.host}/private:v1`, { store, insecure: true, credentials: { username: 'alice', password: 's3cret:pw' } })).resolves.toMatchObject({ manifestDigest: layoutManifest('wasm').digest });
      const cli = await strata(['pull', '-q', '--insecure', `${registry.host}/private:v1`], { STRATA_HOME: storeDir, STRATA_REGISTRY_AUTH: 'alice:s3cret:pw' });
      expect([cli.status, cli.stdout, cli.stderr]).toEqual([0, `${layoutManifest('wasm').digest}\n`, '']);
      const flag = await strata(['pull', '-q', '--insecure', '--creds', 'alice:s3cret:pw', `${registry.host}/private:v1`], { STRATA_HOME: storeDir });
      expect(flag.status).toBe(0);
    } finally {
      await registry.stop();
    }
  });

  it('Bearer tokens: follows the challenge to a token server, which the registry trusts', async () => {
    const signing = makeSigningCert(join(work, 'token-cert'));
    let tokens: TokenServer | undefined;
    let registry: TestRegistry | undefined;
    try {
      tokens = await startTokenServer(signing, { users: { bob: 'hunter2' } });
      registry = await startRegistry({ auth: { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: signing.certPath } } });
      await pushImage(layout, 'linux', `${registry.host}/team/app:v1`, { creds: 'bob:hunter2' });
      tokens.requests.length = 0;
      const store = await ImageStore.open(storeDir);
      const image = await pull(`${registry.host}/team/app:v1`, { store, insecure: true, credentials: { username: 'bob', password: 'hunter2' } });
      expect(image.manifestDigest).toBe(layoutManifest('linux').digest);
      // One token for the whole pull: manifest, config and layer all use it.
      expect(tokens.requests).toEqual([{ service: tokens.service, scopes: ['repository:team/app:pull'], user: 'bob' }]);
      await expect(pull(`${registry.host}/team/app:v1`, { store, insecure: true })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH', message: expect.stringMatching(/refused a token for repository:team\/app:pull anonymously: HTTP 401/) });
    } finally {
      await registry?.stop();
      await tokens?.stop();
    }
  });
});
