import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { checkRecordedAssets, defaultHostConfig, fileSha256, hostArch, selectBackend, verifyAsset, WasmBackend, type BackendAsset } from '../../src/backends/index.js';
import { codeOf } from '../support/error-code.js';
import { tempDir } from '../support/layer-trees.js';
import { expectStrataError } from './manifests.js';

// Count the reads, to see that an unchanged file is hashed once.
vi.mock('node:fs', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs')>();
  return { ...original, createReadStream: vi.fn(original.createReadStream) };
});

const sha = (data: string) => createHash('sha256').update(data).digest('hex');
const asset = (path: string, sha256: string, arch = hostArch()): BackendAsset => ({ name: 'tool', version: '1.2.3', arch: { [arch]: { path, sha256 } } });

describe('asset hashing and pins', () => {
  it('hashes a file once while it is unchanged, and again when it changes', async () => {
    const file = join(tempDir('strata-asset-'), 'tool');
    fs.writeFileSync(file, 'version one');
    const reads = vi.mocked(fs.createReadStream);
    reads.mockClear();
    expect(await fileSha256(file)).toBe(sha('version one'));
    expect(await fileSha256(file)).toBe(sha('version one'));
    expect(reads).toHaveBeenCalledTimes(1);
    fs.writeFileSync(file, 'version two'); // same size, new ctime
    expect(await fileSha256(file)).toBe(sha('version two'));
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('verifies a pin, and names the asset, the expected and the actual sha256 when it differs', async () => {
    const file = join(tempDir('strata-asset-'), 'tool');
    fs.writeFileSync(file, 'binary');
    expect(await verifyAsset(asset(file, sha('binary')))).toEqual({ name: 'tool', version: '1.2.3', arch: hostArch(), path: file, sha256: sha('binary') });
    fs.writeFileSync(file, 'tampered');
    await expect(verifyAsset(asset(file, sha('binary')))).rejects.toMatchObject({
      code: 'ERR_ASSET_MISMATCH',
      message: `backend asset 'tool' 1.2.3 at '${file}': expected sha256 ${sha('binary')}, actual ${sha('tampered')}`,
    });
  });

  it.each([
    ['no entry for this architecture', () => verifyAsset(asset('/bin/sh', sha('x'), 'mips64')), 'ERR_ASSET_MISSING'],
    ['a missing file', () => verifyAsset(asset('/nonexistent/tool', sha('x'))), 'ERR_ASSET_MISSING'],
    ['a directory', () => verifyAsset(asset('/', sha('x'))), 'ERR_ASSET_MISSING'],
    ['a malformed pin', () => verifyAsset(asset('/bin/sh', 'SHA256:abc')), 'ERR_ASSET_MISMATCH'],
  ])('refuses %s', async (_name, verify, code) => {
    expect(await codeOf(verify)).toBe(code);
  });

  it("uses OCI's architecture names", () => {
    expect([hostArch('x64'), hostArch('ia32'), hostArch('arm64')]).toEqual(['amd64', '386', 'arm64']);
  });
});

describe('recorded assets against the configured ones', () => {
  const configured = [asset('/opt/tool', sha('a'))];
  it('accepts the same name, version and sha256 at another path', () => {
    checkRecordedAssets([asset('/elsewhere/tool', sha('a'))], configured);
  });
  it.each([
    ['an asset not configured', [{ ...asset('/t', sha('a')), name: 'other' }], /'other' 1\.2\.3 is not configured on this host \(configured: tool\)/],
    ['another version', [{ ...asset('/t', sha('a')), version: '9' }], /expected version 9, actual 1\.2\.3/],
    ['another architecture only', [asset('/t', sha('a'), 'mips64')], /recorded for mips64, not for this host/],
    ['another sha256', [asset('/t', sha('b'))], new RegExp(`expected sha256 ${sha('b')}, actual ${sha('a')}`)],
  ])('refuses %s with ERR_ASSET_MISMATCH', (_name, recorded, message) => {
    expectStrataError(() => checkRecordedAssets(recorded, configured), 'ERR_ASSET_MISMATCH', message);
  });
});

describe('selectBackend', () => {
  it('is exported from the package entry point with the renderers', async () => {
    const strata = await import('../../src/index.js');
    for (const name of ['selectBackend', 'defaultHostConfig', 'nodeAsset', 'WasmBackend', 'verifyAsset', 'checkRecordedAssets', 'renderRuntimeConfig', 'renderFirecrackerConfig', 'renderQemuArgs']) expect(strata, name).toHaveProperty(name);
  });

  it('gives the wasm backend, pinned to the running node', async () => {
    const host = await defaultHostConfig();
    expect(selectBackend('wasm', host)).toBeInstanceOf(WasmBackend);
    expect(host.classes.wasm!.assets).toEqual([{ name: 'node', version: process.version, arch: { [hostArch()]: { path: process.execPath, sha256: await fileSha256(process.execPath) } } }]);
  });
  it.each([
    ['runsc', /'runsc' is not enabled in the host config/],
    ['runc', /'runc' is not enabled in the host config/],
    ['crun', /'crun' is not enabled in the host config/],
    ['qemu', /'qemu' is not enabled in the host config/],
    ['firecracker', /'firecracker' is not enabled in the host config/],
  ])('answers ERR_BACKEND_UNAVAILABLE for %s, naming the issue that builds it', (cls, message) => {
    expectStrataError(() => selectBackend(cls, { classes: {} }), 'ERR_BACKEND_UNAVAILABLE', message);
  });
  it('refuses a class the host does not enable, and an unknown class', () => {
    expectStrataError(() => selectBackend('wasm', { classes: {} }), 'ERR_BACKEND_UNAVAILABLE', /not enabled/);
    expectStrataError(() => selectBackend('docker', { classes: {} }), 'ERR_INVALID_OPTION', /unknown sandbox class 'docker'/);
  });
});
