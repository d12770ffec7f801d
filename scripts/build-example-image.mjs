#!/usr/bin/env node
// Build examples/hello-image: a small OCI image layout for the README's
// quickstart, so `strata run oci:examples/hello-image` works on a fresh
// clone with no registry and no network. The output is committed; a test
// rebuilds it into a temp dir and checks the bytes are the same.
//
//   node scripts/build-example-image.mjs [OUTDIR]   (default examples/hello-image)
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(repo, 'examples', 'hello-image');
const mtime = new Date('2026-01-01T00:00:00Z');
const guest = (name) => readFileSync(join(repo, 'guests', 'bin', `${name}.wasm`));

// [path, type, contents-or-target, mode]
const entries = [
  ['bin/', 'directory', null, 0o755],
  ['bin/hello', 'file', guest('hello'), 0o755],
  ['bin/fsbox', 'file', guest('fsbox'), 0o755],
  ['etc/', 'directory', null, 0o755],
  ['etc/motd', 'file', Buffer.from('Welcome to the strata example image.\n'), 0o644],
  ['usr/', 'directory', null, 0o755],
  ['usr/bin/', 'directory', null, 0o755],
  // As in real images: one absolute link, one that climbs.
  ['usr/bin/hello', 'symlink', '/bin/hello', 0o777],
  ['usr/bin/fsbox', 'symlink', '../../bin/fsbox', 0o777],
];

async function layerTar() {
  const pack = tar.pack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const done = new Promise((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [name, type, body, mode] of entries) {
    const header = { name, type, mode, mtime, uid: 0, gid: 0, uname: 'root', gname: 'root' };
    if (type === 'symlink') pack.entry({ ...header, linkname: body });
    else if (type === 'file') pack.entry({ ...header, size: body.length }, body);
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const json = (value) => Buffer.from(JSON.stringify(value));

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'blobs', 'sha256'), { recursive: true });
const put = (bytes) => {
  const digest = sha(bytes);
  writeFileSync(join(out, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { digest, size: bytes.length };
};

const layer = await layerTar();
const layerDesc = { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(layer) };
const config = json({
  created: mtime.toISOString(),
  architecture: 'wasm',
  os: 'wasip1',
  config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['hello', 'world'], WorkingDir: '/' },
  rootfs: { type: 'layers', diff_ids: [layerDesc.digest] },
  history: [{ created: mtime.toISOString(), created_by: 'scripts/build-example-image.mjs' }],
});
const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) };
const manifest = json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: [layerDesc] });
const manifestDesc = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  ...put(manifest),
  annotations: { 'org.opencontainers.image.ref.name': 'latest' },
};
writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
writeFileSync(join(out, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [manifestDesc] }));
console.log(`built ${out}: manifest ${manifestDesc.digest}`);
