import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as strata from '../../src/index.js';
import { ImageStore, applyLayers, indexLayer, pull, viewLayers } from '../../src/index.js';
import { Namespace } from '../../src/vfs/index.js';
import { Layout } from '../support/image-layout.js';

describe('the package entry point', () => {
  it('exports the documented API', () => {
    for (const name of ['openImage', 'checkMount', 'KeptSandboxes', 'Sandbox', 'compileGuest', 'GuestError', 'StrataError', 'ErrorCode', 'FsError', 'pull', 'ImageStore', 'indexLayer', 'viewLayers', 'applyLayers', 'parseReference', 'defaultStoreRoot', 'SandboxFs', 'SandboxStats', 'SandboxDirent', 'SandboxFileHandle']) {
      expect(strata, name).toHaveProperty(name);
    }
  });

  it('runs the README images example: pull, index, view, extract', async () => {
    const work = mkdtempSync(join(tmpdir(), 'strata-api-'));
    const layout = new Layout(join(work, 'layout'));
    layout.tag(await layout.image([{ 'etc/motd': 'hello from layer 1\n' }, { 'etc/motd': 'layer 2 wins\n', 'bin/tool': 'x' }]), 'v1');

    const images = await ImageStore.open(join(work, 'store'));
    const image = await pull(`oci:${layout.dir}:v1`, { store: images });
    const layers = await Promise.all(image.layers.map((l) => indexLayer(images.blobs, l)));
    const view = viewLayers(layers, { dev: 1n });
    const motd = new Namespace(view.root).resolve(view.root, '/etc/motd', true, 'open');
    const bytes = new Uint8Array(64);
    expect(motd.type === 'file' && new TextDecoder().decode(bytes.subarray(0, motd.read(bytes, 0, 64, 0)))).toBe('layer 2 wins\n');

    mkdirSync(join(work, 'rootfs'));
    const result = await applyLayers(layers, join(work, 'rootfs'));
    expect(result.warnings).toEqual([]);
    expect(readFileSync(join(work, 'rootfs', 'etc', 'motd'), 'utf8')).toBe('layer 2 wins\n');
    for (const l of layers) l.close();
  });
});
