import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostArch } from '../../src/backends/index.js';
import { hostConfigPath, parseHostConfig, pinAsset, probeAsset, readHostConfig, writeHostConfig } from '../../src/backends/host-config.js';
import { codeOf } from '../support/error-code.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-host-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = 'a'.repeat(64);
const asset = (name: string, path = '/usr/sbin/runc') => ({ name, version: '1.1.5', arch: { amd64: { path, sha256: sha } } });

describe('host config file', () => {
  it('finds the file: --host-config, then $STRATA_HOST_CONFIG, then $STRATA_HOME/host.json', () => {
    expect(hostConfigPath('/x/h.json', { STRATA_HOST_CONFIG: '/y.json' })).toBe('/x/h.json');
    expect(hostConfigPath(undefined, { STRATA_HOST_CONFIG: '/y.json', STRATA_HOME: '/s' })).toBe('/y.json');
    expect(hostConfigPath(undefined, { STRATA_HOME: '/s' })).toBe('/s/host.json');
  });

  it('accepts any class with any assets (qemu: binary, kernel, initramfs) and per-class config', () => {
    const config = { version: 1, classes: { runsc: { assets: [asset('runsc')], config: { platform: 'ptrace' } }, qemu: { assets: [asset('qemu'), asset('kernel', '/k/vmlinux'), asset('initramfs', '/k/initrd')] } } };
    expect(parseHostConfig(JSON.stringify(config), 'test')).toEqual(config);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['no version', JSON.stringify({ classes: {} }), /version/],
    ['an unknown class', JSON.stringify({ version: 1, classes: { docker: { assets: [] } } }), /classes/],
    ['a short sha256', JSON.stringify({ version: 1, classes: { runc: { assets: [{ ...asset('runc'), arch: { amd64: { path: '/r', sha256: 'abc' } } }] } } }), /\/classes\/runc\/assets\/0\/arch\/amd64\/sha256/],
    ['a relative path', JSON.stringify({ version: 1, classes: { runc: { assets: [asset('runc', 'runc')] } } }), /path/],
    ['an asset pinned twice', JSON.stringify({ version: 1, classes: { runc: { assets: [asset('runc'), asset('runc')] } } }), /'runc' twice/],
  ])('refuses %s with ERR_BAD_HOST_CONFIG naming the field', (_name, text, message) => {
    let error: unknown;
    try {
      parseHostConfig(text, 'host config');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_BAD_HOST_CONFIG', message: expect.stringMatching(message) });
  });

  it('a missing file enables wasm only; a file without wasm gets the default wasm class', async () => {
    expect(Object.keys((await readHostConfig(join(dir, 'none.json'))).classes)).toEqual(['wasm']);
    const path = join(dir, 'runc.json');
    await writeHostConfig(path, { version: 1, classes: { runc: { assets: [asset('runc')] } } });
    expect(Object.keys((await readHostConfig(path)).classes).sort()).toEqual(['runc', 'wasm']);
    writeFileSync(join(dir, 'bad.json'), '[]');
    expect(await codeOf(readHostConfig(join(dir, 'bad.json')))).toBe('ERR_BAD_HOST_CONFIG');
  });

  it('pinAsset adds, replaces by name and merges architectures and class config', () => {
    const one = pinAsset(undefined, 'runc', asset('runc'), { a: 1 });
    expect(one).toEqual({ version: 1, classes: { runc: { assets: [asset('runc')], config: { a: 1 } } } });
    const arm = { name: 'runc', version: '1.1.5', arch: { arm64: { path: '/r', sha256: 'b'.repeat(64) } } };
    expect(pinAsset(one, 'runc', arm).classes.runc!.assets[0]!.arch).toEqual({ ...asset('runc').arch, ...arm.arch });
    const newer = { ...asset('runc'), version: '1.2.0' };
    expect(pinAsset(one, 'runc', newer).classes.runc).toEqual({ assets: [newer], config: { a: 1 } });
  });

  it('probeAsset hashes the file and reads the version it reports', async () => {
    const tool = join(dir, 'fake-runtime');
    writeFileSync(tool, '#!/bin/sh\necho "fake-runtime version 2.3.4+ds1"\necho "spec: 1.0.2"\n');
    chmodSync(tool, 0o755);
    const probed = await probeAsset('fake', tool);
    expect(probed.version).toBe('2.3.4+ds1');
    expect(probed.arch[hostArch()]!.path).toBe(tool);
    expect(probed.arch[hostArch()]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await codeOf(probeAsset('x', join(dir, 'missing')))).toBe('ERR_ASSET_MISSING');
    expect(readFileSync(tool, 'utf8')).toContain('fake-runtime');
  });
});
