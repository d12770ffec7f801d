import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { readTarEntries } from '../../src/oci/tar.js';
import { openImage, Sandbox, type Image } from '../../src/sandbox/index.js';
import { guestBytes, text } from '../support/guests.js';
import { requireTool } from '../support/host-tool.js';
import { tempDir } from '../support/layer-trees.js';
import { pushImage, startRegistry, tool, type TestRegistry } from '../support/registry.js';

/**
 * The image-roots acceptance test, with real parts: an image built with
 * umoci (a guest, files, a hard link, symlinks absolute and climbing),
 * pushed with skopeo to Debian's docker-registry on 127.0.0.1, pulled by
 * strata, and run in each root mode. diff() is compared with the layer
 * `umoci repack` writes for the same changes made on an unpacked copy.
 */
const run = requireTool('umoci', 'skopeo', 'docker-registry');

describe.skipIf(!run)('image roots over a registry image built with umoci', () => {
  let registry: TestRegistry;
  let image: Image;
  let layout: string;
  let store: ImageStore;

  beforeAll(async () => {
    registry = await startRegistry();
    layout = join(tempDir('strata-e2e-layout-'), 'layout');
    tool('umoci', ['init', '--layout', layout]);
    tool('umoci', ['new', '--image', `${layout}:base`]);
    const bundle = join(tempDir('strata-e2e-bundle-'), 'b');
    tool('umoci', ['unpack', '--rootless', '--image', `${layout}:base`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    for (const dir of ['bin', 'etc/app', 'usr/lib', 'lib', 'data/sub']) mkdirSync(join(rootfs, dir), { recursive: true });
    writeFileSync(join(rootfs, 'bin/fsbox'), guestBytes('fsbox'));
    chmodSync(join(rootfs, 'bin/fsbox'), 0o755);
    writeFileSync(join(rootfs, 'etc/app/config'), 'setting=1\n');
    writeFileSync(join(rootfs, 'etc/app/remove-me'), 'x');
    writeFileSync(join(rootfs, 'lib/libx.so'), 'library');
    symlinkSync('../../lib/libx.so', join(rootfs, 'usr/lib/libx.so')); // climbs
    symlinkSync('/etc/app/config', join(rootfs, 'etc/config')); // absolute
    writeFileSync(join(rootfs, 'data/a'), 'hardlinked');
    linkSync(join(rootfs, 'data/a'), join(rootfs, 'data/b'));
    writeFileSync(join(rootfs, 'data/sub/one'), '1');
    writeFileSync(join(rootfs, 'data/sub/two'), '2');
    tool('umoci', ['repack', '--image', `${layout}:base`, bundle]);
    tool('umoci', ['config', '--image', `${layout}:base`, '--tag', '1.0', '--os', 'linux', '--architecture', 'amd64', '--config.env', 'PATH=/bin']);
    await pushImage(layout, '1.0', `${registry.host}/e2e/roots:1.0`);
    store = await ImageStore.open(tempDir('strata-e2e-store-'));
    image = await openImage(`${registry.host}/e2e/roots:1.0`, { store, insecure: true });
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
  });

  async function fsbox(sandbox: Sandbox, ...args: string[]) {
    const r = await sandbox.exec(['fsbox', ...args]);
    return { code: r.exitCode, out: text(r.stdout), err: text(r.stderr) };
  }

  it('resolves absolute and climbing symlinks of the image inside the root', async () => {
    const sandbox = await Sandbox.create({ image, root: 'readonly' });
    expect((await fsbox(sandbox, 'cat', '/etc/config', '/usr/lib/libx.so')).out).toBe('setting=1\nlibrary');
  });

  it('readonly: EROFS for every mutation', async () => {
    const sandbox = await Sandbox.create({ image, root: 'readonly' });
    for (const args of [['write', '/etc/app/config', 'x'], ['rm', '/data/a'], ['mkdir', '/new'], ['ln', '/data/a', '/data/c']]) {
      expect((await fsbox(sandbox, ...args)).err, args.join(' ')).toContain('Read-only file system');
    }
  });

  it('overlay: copy-up, whiteouts, an opaque dir and hard links; diff() matches the layer umoci writes for the same changes', async () => {
    const sandbox = await Sandbox.create({ image });
    const changes: string[][] = [
      ['write', '/etc/app/config', 'setting=2\n'],
      ['rm', '/etc/app/remove-me'],
      ['write', '/etc/app/added', 'new'],
      ['append', '/data/a', '+'],
      ['rm', '/data/sub/one'],
      ['rm', '/data/sub/two'],
      ['rmdir', '/data/sub'],
      ['mkdir', '/data/sub'],
      ['write', '/data/sub/three', '3'],
    ];
    for (const args of changes) expect((await fsbox(sandbox, ...args)).code, args.join(' ')).toBe(0);
    expect((await fsbox(sandbox, 'cat', '/data/b')).out).toBe('hardlinked+');
    expect((await fsbox(sandbox, 'stat', '/data/b')).out).toContain('nlink=2');
    expect((await fsbox(sandbox, 'ls', '/data/sub')).out).toBe('three\n');
    expect((await fsbox(sandbox, 'ls', '/etc/app')).out).toBe('added\nconfig\n');

    // The same changes, made by hand on an unpacked copy, repacked by umoci.
    const bundle = join(tempDir('strata-e2e-diff-'), 'b');
    tool('umoci', ['unpack', '--rootless', '--image', `${layout}:1.0`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    writeFileSync(join(rootfs, 'etc/app/config'), 'setting=2\n');
    unlinkSync(join(rootfs, 'etc/app/remove-me'));
    writeFileSync(join(rootfs, 'etc/app/added'), 'new');
    writeFileSync(join(rootfs, 'data/a'), 'hardlinked+');
    rmSync(join(rootfs, 'data/sub'), { recursive: true });
    mkdirSync(join(rootfs, 'data/sub'));
    writeFileSync(join(rootfs, 'data/sub/three'), '3');
    tool('umoci', ['repack', '--image', `${layout}:changed`, bundle]);
    const umociChanges = await lastLayerChanges(layout, 'changed');

    // Compare what each says about non-directories (both list the children
    // of the removed-and-remade /data/sub as deleted), hard links included:
    // both names of the changed inode are changed.
    const ours = new Set<string>();
    for (const c of sandbox.diff()) {
      if (c.type === 'directory' && c.kind !== 'deleted') continue;
      ours.add(`${c.kind === 'deleted' ? 'D' : 'AC'} ${c.path}`);
    }
    const theirs = new Set(umociChanges.map((c) => `${c.kind} ${c.path}`));
    expect([...ours].sort()).toEqual([...theirs].sort());
  });

  it('tmpfs: the image copied into a private root whose quota holds', async () => {
    const sandbox = await Sandbox.create({ image, root: 'tmpfs', tmpfs: { maxBytes: 256 << 10 } });
    expect((await fsbox(sandbox, 'cat', '/data/b')).out).toBe('hardlinked');
    expect((await fsbox(sandbox, 'write', '/fill', 'x'.repeat(300 << 10))).err).toContain('No space left on device');
    expect(sandbox.usage.bytes).toBeLessThanOrEqual(256 << 10);
  });

  it('a real tool from the image writes its output to a bind mount the host reads', async () => {
    const out = tempDir('strata-e2e-out-');
    const sandbox = await Sandbox.create({ image, root: 'readonly', mounts: [{ type: 'bind', source: out, target: '/out' }] });
    const r = await sandbox.exec(['fsbox', 'cat', '/etc/app/config']);
    expect(text(r.stdout)).toBe('setting=1\n');
    expect((await fsbox(sandbox, 'write', '/out/report.txt', text(r.stdout))).code).toBe(0);
    expect(readFileSync(join(out, 'report.txt'), 'utf8')).toBe('setting=1\n');
  });
});

/** The changes in the top layer of a tag: `A/C` for entries, `D` for whiteouts (umoci writes plain tar or gzip). */
async function lastLayerChanges(layout: string, tag: string): Promise<Array<{ kind: 'AC' | 'D'; path: string }>> {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const blob = (d: string) => readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)));
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const manifest = JSON.parse(blob(desc.digest).toString()) as { layers: Array<{ digest: string }> };
  const top = blob(manifest.layers.at(-1)!.digest);
  const tarBytes = spawnSync('gzip', ['-dc'], { input: top, maxBuffer: 1 << 28 }).stdout as Buffer;
  const out: Array<{ kind: 'AC' | 'D'; path: string }> = [];
  for (const entry of readTarEntries(tarBytes.length > 0 ? tarBytes : top)) {
    const path = `/${entry.name.replace(/^\.?\//, '').replace(/\/$/, '')}`;
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (base.startsWith('.wh.')) out.push({ kind: 'D', path: `${path.slice(0, path.lastIndexOf('/') + 1)}${base.slice(4)}` });
    else if (entry.type !== '5') out.push({ kind: 'AC', path });
  }
  return out;
}
