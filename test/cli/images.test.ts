import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from '../../src/oci/manifest.js';
import { guestBytes } from '../support/guests.js';
import { Layout } from '../support/image-layout.js';

// The image commands as users run them: the built bin (npm test builds
// dist first), against OCI layouts made by the test. Registry pulls through
// the CLI are in test/e2e/registry.test.ts.
const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));

let dir: string;
let layout: Layout;
let single: Descriptor;
let index: Descriptor;
let wasm: Descriptor;
let env: Record<string, string>;

function strata(args: string[], extraEnv: Record<string, string> = env) {
  const base = { ...process.env };
  delete base['STRATA_HOME'];
  delete base['STRATA_REGISTRY_AUTH'];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...base, ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-images-'));
  env = { STRATA_HOME: join(dir, 'home') };
  layout = new Layout(join(dir, 'layout'));
  single = await layout.image([{ 'hello.wasm': guestBytes('hello') }, { 'etc/motd': 'hi\n' }], { os: 'linux', architecture: 'amd64' });
  layout.tag(single, 'v1');
  wasm = await layout.image([{ 'app.wasm': guestBytes('hello') }], { os: 'wasi', architecture: 'wasm' });
  index = layout.index([single, wasm]);
  layout.tag(index, 'multi');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('strata pull', () => {
  it('prints one plain line per step when stdout is not a terminal', () => {
    const r = strata(['pull', `oci:${layout.dir}:v1`]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`pulling oci:${layout.dir}:v1`);
    expect(lines[1]).toMatch(new RegExp(`^resolved ${single.digest} \\(linux/amd64\\), 2 layers, \\d+(\\.\\d)? (B|KiB)$`));
    expect(lines.filter((l) => /^sha256:[0-9a-f]{12}: fetched, /.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /^sha256:[0-9a-f]{12}: indexed \(diffID sha256:[0-9a-f]{12}\)$/.test(l))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(new RegExp(`^pulled oci:${layout.dir}:v1 ${single.digest} in \\d+\\.\\d\\d s$`));
  });

  it('prints only the manifest digest with --quiet, and takes --platform', () => {
    expect(strata(['pull', '-q', `oci:${layout.dir}:multi`])).toEqual({ status: 0, stdout: `${wasm.digest}\n`, stderr: '' });
    expect(strata(['pull', '--quiet', '--platform', 'linux/amd64', `oci:${layout.dir}:multi`]).stdout).toBe(`${single.digest}\n`);
  });

  it('resolves a relative oci: path against the working directory', () => {
    const r = spawnSync(process.execPath, [bin, 'pull', '-q', 'oci:layout:v1'], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
    expect(r.stdout).toBe(`${single.digest}\n`);
  });

  it('uses $XDG_CACHE_HOME/strata when $STRATA_HOME is not set', () => {
    const cache = join(dir, 'xdg');
    expect(strata(['pull', '-q', `oci:${layout.dir}:v1`], { XDG_CACHE_HOME: cache }).status).toBe(0);
    expect(readdirSync(join(cache, 'strata', 'blobs', 'sha256')).length).toBeGreaterThan(0);
  });

  it('fails with the error code and exit 1 when the image cannot be pulled', () => {
    const r = strata(['pull', `oci:${layout.dir}:nope`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`strata: ERR_MANIFEST_NOT_FOUND: oci:${layout.dir}:nope: no image tagged 'nope' in ${layout.dir}/index.json; its tags: v1, multi\n`);
    const platform = strata(['pull', '--platform', 'linux/s390x', `oci:${layout.dir}:multi`]);
    expect(platform.status).toBe(1);
    expect(platform.stderr).toMatch(/^strata: ERR_NO_MATCHING_PLATFORM: .* it has: linux\/amd64, wasi\/wasm/);
  });

  const usage: [string, string[], RegExp][] = [
    ['no reference', ['pull'], /missing REF/],
    ['two references', ['pull', 'a/b', 'c/d'], /expected one REF, got 2/],
    ['an unknown flag', ['pull', '--frob', 'a/b'], /Unknown option '--frob'.*strata pull --help/],
    ['a flag without its value', ['pull', 'a/b', '--platform'], /--platform/],
    ['a bad reference', ['pull', 'Not/A:Ref!'], /ERR_BAD_REFERENCE: invalid image reference 'Not\/A:Ref!'/],
    ['a bad platform', ['pull', '--platform', 'linux', 'a/b'], /ERR_INVALID_OPTION: platform 'linux' is not OS\/ARCH/],
    ['bad credentials', ['pull', '--creds', 'nocolon', 'a/b'], /ERR_INVALID_OPTION: --creds: expected USER:PASSWORD/],
    ['an extra argument to images', ['images', 'x'], /unexpected argument 'x'/],
    ['inspect without a reference', ['inspect'], /missing REF/],
    ['rmi without a reference', ['rmi'], /missing REF/],
  ];
  it.each(usage)('exits 2 on %s', (_name, args, message) => {
    const r = strata(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('strata images, inspect, rmi, gc', () => {
  it('lists pulled images as a table and as JSON', () => {
    const home = { STRATA_HOME: join(dir, 'list-home') };
    strata(['pull', '-q', `oci:${layout.dir}:v1`], home);
    strata(['pull', '-q', `oci:${layout.dir}:multi`], home);
    const table = strata(['images'], home).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/^REFERENCE +DIGEST +PLATFORM +SIZE +CREATED$/);
    expect(table.slice(1).map((l) => l.split(/ {2,}/))).toEqual([
      [`oci:${layout.dir}:multi`, wasm.digest.slice(0, 19), 'wasi/wasm', expect.stringMatching(/ (B|KiB)$/), expect.stringMatching(/ ago$/)],
      [`oci:${layout.dir}:v1`, single.digest.slice(0, 19), 'linux/amd64', expect.stringMatching(/ (B|KiB)$/), expect.stringMatching(/ ago$/)],
    ]);
    const json = JSON.parse(strata(['images', '--json'], home).stdout) as { reference: string; manifestDigest: string; indexDigest?: string }[];
    expect(json.map((r) => [r.reference, r.manifestDigest, r.indexDigest])).toEqual([
      [`oci:${layout.dir}:multi`, wasm.digest, index.digest],
      [`oci:${layout.dir}:v1`, single.digest, undefined],
    ]);
  });

  it('inspects an image as JSON: digest, platform, config and layers with diffIDs', () => {
    const home = { STRATA_HOME: join(dir, 'inspect-home') };
    strata(['pull', '-q', `oci:${layout.dir}:v1`], home);
    const r = strata(['inspect', `oci:${layout.dir}:v1`], home);
    expect(r.status).toBe(0);
    const image = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(image).toMatchObject({
      reference: `oci:${layout.dir}:v1`,
      manifestDigest: single.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      platform: { os: 'linux', architecture: 'amd64' },
      created: '2024-01-02T03:04:05Z',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: expect.stringMatching(/^sha256:/), content: { os: 'linux', rootfs: { type: 'layers' } } },
    });
    expect(image['layers']).toEqual([0, 1].map(() => ({ digest: expect.stringMatching(/^sha256:/), size: expect.any(Number), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', diffID: expect.stringMatching(/^sha256:/) })));
    expect(strata(['inspect', single.digest], home).stdout).toBe(r.stdout);
  });

  it('says when an image was not pulled', () => {
    const r = strata(['inspect', '127.0.0.1:5000/never:pulled']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("strata: ERR_IMAGE_NOT_FOUND: image '127.0.0.1:5000/never:pulled' has not been pulled (see 'strata images', or 'strata pull 127.0.0.1:5000/never:pulled')\n");
  });

  it('removes images, then gc frees their blobs and layer caches', () => {
    const home = { STRATA_HOME: join(dir, 'gc-home') };
    strata(['pull', '-q', `oci:${layout.dir}:v1`], home);
    strata(['pull', '-q', `oci:${layout.dir}:multi`], home);
    expect(strata(['gc'], home).stdout).toBe('removed 0 blob(s), 0 cached layer file(s), 0 cached root tree(s), 0 temp file(s); freed 0 B (0 bytes)\n');
    expect(strata(['rmi', `oci:${layout.dir}:v1`, `oci:${layout.dir}:multi`], home).stdout).toBe(`removed oci:${layout.dir}:v1 ${single.digest}\nremoved oci:${layout.dir}:multi ${wasm.digest}\n`);
    const gc = strata(['gc'], home);
    expect(gc.status).toBe(0);
    // single: manifest, config, 2 layers; multi: index, manifest, config, 1 layer.
    expect(gc.stdout).toMatch(/^removed 8 blob\(s\), \d+ cached layer file\(s\), 0 cached root tree\(s\), 0 temp file\(s\); freed [\d.]+ KiB \(\d+ bytes\)\n$/);
    expect(readdirSync(join(home.STRATA_HOME, 'blobs', 'sha256'))).toEqual([]);
    expect(existsSync(join(home.STRATA_HOME, 'layers', 'sha256')) ? readdirSync(join(home.STRATA_HOME, 'layers', 'sha256')) : []).toEqual([]);
    expect(strata(['images'], home).stdout).toBe('REFERENCE  DIGEST  PLATFORM  SIZE  CREATED\n');
  });
});

describe('help', () => {
  it('lists the image commands, and each has its own help', () => {
    const main = strata(['--help']).stdout;
    for (const command of ['pull', 'images', 'inspect', 'rmi', 'gc']) expect(main).toContain(`strata ${command}`);
    const pull = strata(['pull', '--help']);
    expect(pull.status).toBe(0);
    for (const flag of ['--platform', '--insecure', '--creds', '--quiet', 'oci:DIR', 'docker-archive:FILE', 'STRATA_REGISTRY_AUTH']) expect(pull.stdout).toContain(flag);
    expect(strata(['help', 'pull']).stdout).toBe(pull.stdout);
    expect(strata(['help', 'gc']).stdout).toMatch(/^Usage: strata gc/);
    expect(strata(['help', 'constructor']).stdout).toMatch(/^strata: run untrusted programs/);
  });
});
