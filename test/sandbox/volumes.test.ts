import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listVolumes, removeVolume, volumePath } from '../../src/sandbox/volumes.js';
import { HostDir, Namespace, Tmpfs, type FileNode } from '../../src/vfs/index.js';
import { codeOf } from '../support/error-code.js';

let store: string;
beforeEach(() => {
  store = mkdtempSync(join(tmpdir(), 'strata-volumes-'));
});
afterEach(() => {
  rmSync(store, { recursive: true, force: true });
});

describe('volumes', () => {
  it('creates a volume on first use under <store>/volumes/NAME and finds it again', () => {
    expect(listVolumes(store)).toEqual([]);
    const path = volumePath(store, 'cache');
    expect(path).toBe(join(store, 'volumes', 'cache'));
    writeFileSync(join(path, 'kept'), 'v1');
    expect(volumePath(store, 'cache')).toBe(path);
    expect(readFileSync(join(path, 'kept'), 'utf8')).toBe('v1');
    volumePath(store, 'a.b_c-9');
    expect(listVolumes(store)).toEqual(['a.b_c-9', 'cache']);
  });

  it('outlives a sandbox: what one mount wrote, the next mount of the same name sees', () => {
    const write = (name: string, text: string) => {
      const ns = new Namespace(new Tmpfs({ dev: 1n }).root);
      ns.mkdir(ns.root, '/data');
      const bind = new HostDir({ path: volumePath(store, name), readonly: false, dev: 2n });
      ns.mount('/data', bind.root);
      const f = ns.open(ns.root, '/data/note', { follow: true, create: true }).node as FileNode;
      const bytes = new TextEncoder().encode(text);
      f.write(bytes, 0, bytes.length, 0);
      bind.close();
    };
    write('shared', 'from the first sandbox');
    expect(readFileSync(join(volumePath(store, 'shared'), 'note'), 'utf8')).toBe('from the first sandbox');
    expect(listVolumes(store)).toEqual(['shared']);
    write('other', 'x');
    expect(readFileSync(join(volumePath(store, 'shared'), 'note'), 'utf8')).toBe('from the first sandbox');
  });

  it.each(['', 'UPPER', '.hidden', '-dash', '_under', 'a/b', '..', 'a b', 'é', 'x'.repeat(65), 'nul\0'])('refuses the name %j with ERR_INVALID_OPTION', async (name) => {
    expect(await codeOf(() => volumePath(store, name))).toBe('ERR_INVALID_OPTION');
    expect(await codeOf(() => removeVolume(store, name))).toBe('ERR_INVALID_OPTION');
    expect(listVolumes(store)).toEqual([]);
  });

  it('accepts the longest name', () => {
    expect(volumePath(store, 'x'.repeat(64))).toBe(join(store, 'volumes', 'x'.repeat(64)));
  });

  it('removes a volume and its contents; a missing one is ERR_VOLUME_NOT_FOUND', async () => {
    const path = volumePath(store, 'gone');
    mkdirSync(join(path, 'deep', 'er'), { recursive: true });
    writeFileSync(join(path, 'deep', 'er', 'f'), 'x');
    removeVolume(store, 'gone');
    expect(listVolumes(store)).toEqual([]);
    expect(await codeOf(() => removeVolume(store, 'gone'))).toBe('ERR_VOLUME_NOT_FOUND');
    expect(await codeOf(() => removeVolume(store, 'never'))).toBe('ERR_VOLUME_NOT_FOUND');
  });

  it('refuses a volume path that is a symlink (ERR_BAD_PATH) and leaves its target alone', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'strata-volumes-outside-'));
    try {
      writeFileSync(join(outside, 'precious'), 'keep');
      mkdirSync(join(store, 'volumes'));
      symlinkSync(outside, join(store, 'volumes', 'trap'));
      expect(await codeOf(() => volumePath(store, 'trap'))).toBe('ERR_BAD_PATH');
      expect(await codeOf(() => removeVolume(store, 'trap'))).toBe('ERR_VOLUME_NOT_FOUND');
      expect(listVolumes(store)).toEqual([]);
      expect(readFileSync(join(outside, 'precious'), 'utf8')).toBe('keep');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('ignores files and odd names in the volumes directory when listing', () => {
    mkdirSync(join(store, 'volumes', 'Not-Valid'), { recursive: true });
    writeFileSync(join(store, 'volumes', 'file'), '');
    volumePath(store, 'ok');
    expect(listVolumes(store)).toEqual(['ok']);
  });
});
