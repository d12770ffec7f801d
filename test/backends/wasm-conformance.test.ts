import { fileURLToPath } from 'node:url';
import { defaultHostConfig, hostArch, selectBackend, WasmBackend, type BackendManifest } from '../../src/backends/index.js';
import { ImageStore, pull } from '../../src/index.js';
import { tempDir } from '../support/layer-trees.js';
import { backendConformance } from './conformance.js';

const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));

backendConformance('wasm', async () => {
  const host = await defaultHostConfig();
  const node = host.classes.wasm!.assets[0]!;
  const store = await ImageStore.open(tempDir('strata-conformance-'));
  const record = await pull(`oci:${example}`, { store });
  const image: BackendManifest['image'] = { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((l) => l.diffID ?? l.digest) };
  return {
    backend: selectBackend('wasm', host),
    tampered: new WasmBackend({ assets: [{ ...node, arch: { [hostArch()]: { ...node.arch[hostArch()]!, sha256: 'a'.repeat(64) } } }] }),
    store,
    motd: 'Welcome to the strata example image.\n',
    manifest: (mode, mounts = []) => ({ class: 'wasm', image, root: { mode }, mounts, process: { args: ['hello'], env: ['PATH=/usr/bin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] }),
    cat: (path) => ['fsbox', 'cat', path],
    write: (path, text) => ['fsbox', 'write', path, text],
  };
});
