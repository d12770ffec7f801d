import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { openImage, Sandbox, type Image } from '../../src/sandbox/index.js';
import { codeOf } from '../support/error-code.js';
import { guestBytes, text } from '../support/guests.js';
import { Layout } from '../support/image-layout.js';
import { tempDir } from '../support/layer-trees.js';

/**
 * Sandboxes over images through the API: each root mode with the fsbox
 * guest from the example image, mounts of every kind, /dev, and the
 * sharing that makes a sandbox over a cached image O(1).
 */
const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
let store: ImageStore;
let image: Image;

beforeAll(async () => {
  store = await ImageStore.open(tempDir('strata-images-'));
  image = await openImage(`oci:${example}`, { store });
});

async function fsbox(sandbox: Sandbox, ...args: string[]) {
  const r = await sandbox.exec(['fsbox', ...args]);
  return { code: r.exitCode, out: text(r.stdout), err: text(r.stderr) };
}

describe('over the example image', () => {
  it('runs the image command: Cmd, Env PATH and a climbing symlink (/usr/bin/hello -> /bin/hello)', async () => {
    const sandbox = await Sandbox.create({ image });
    const r = await sandbox.exec();
    expect(text(r.stdout)).toBe('hello, world\n');
    expect(text((await sandbox.exec(['/usr/bin/hello', 'abs'])).stdout)).toBe('hello, abs\n');
    expect(await fsbox(sandbox, 'cat', '/etc/motd')).toMatchObject({ code: 0, out: 'Welcome to the strata example image.\n' });
  });

  it('defaults to overlay over an image, tmpfs without one', async () => {
    expect((await Sandbox.create({ image })).rootMode).toBe('overlay');
    expect((await Sandbox.create()).rootMode).toBe('tmpfs');
  });

  it('readonly: every mutation is EROFS, with /tmp and /run writable', async () => {
    const sandbox = await Sandbox.create({ image, root: 'readonly' });
    for (const args of [
      ['write', '/etc/motd', 'x'],
      ['write', '/new', 'x'],
      ['rm', '/etc/motd'],
      ['mkdir', '/d'],
      ['rmdir', '/usr/bin'],
      ['ln', '/etc/motd', '/etc/m2'],
      ['symlink', 'motd', '/etc/l'],
      ['mv', '/etc/motd', '/etc/m3'],
    ]) {
      const r = await fsbox(sandbox, ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toContain('Read-only file system');
    }
    expect((await fsbox(sandbox, 'write', '/tmp/x', 'scratch')).code).toBe(0);
    expect((await fsbox(sandbox, 'write', '/run/y', 'scratch')).code).toBe(0);
    expect((await fsbox(sandbox, 'cat', '/tmp/x')).out).toBe('scratch');
    expect(await codeOf(() => sandbox.diff())).toBe('ERR_INVALID_OPTION');
  });

  it('readonly: a caller tmpfs replaces the default scratch mounts', async () => {
    const sandbox = await Sandbox.create({ image, root: 'readonly', mounts: [{ type: 'tmpfs', target: '/scratch' }] });
    expect((await fsbox(sandbox, 'write', '/scratch/a', '1')).code).toBe(0);
    expect((await fsbox(sandbox, 'write', '/tmp/a', '1')).err).toMatch(/No such file|Read-only/);
  });

  it('overlay: copy-up, whiteouts and an opaque dir; diff() lists them; the image is untouched', async () => {
    const sandbox = await Sandbox.create({ image });
    expect((await fsbox(sandbox, 'append', '/etc/motd', 'more\n')).code).toBe(0);
    expect((await fsbox(sandbox, 'rm', '/bin/hello')).code).toBe(0);
    expect((await fsbox(sandbox, 'rm', '/usr/bin/hello')).code).toBe(0);
    expect((await fsbox(sandbox, 'rm', '/usr/bin/fsbox')).code).toBe(0);
    expect((await fsbox(sandbox, 'rmdir', '/usr/bin')).code).toBe(0);
    expect((await fsbox(sandbox, 'mkdir', '/usr/bin')).code).toBe(0);
    expect((await fsbox(sandbox, 'write', '/usr/bin/new', 'n')).code).toBe(0);
    expect((await fsbox(sandbox, 'cat', '/etc/motd')).out).toBe('Welcome to the strata example image.\nmore\n');
    expect((await fsbox(sandbox, 'ls', '/usr/bin')).out).toBe('new\n');
    expect((await fsbox(sandbox, 'ls', '/bin')).out).toBe('fsbox\n');
    const diff = sandbox.diff().map((c) => `${c.kind[0]!.toUpperCase()} ${c.path}`);
    expect(diff).toEqual(expect.arrayContaining(['C /etc/motd', 'D /bin/hello', 'A /usr/bin/new']));
    // rmdir + mkdir made /usr/bin opaque: each image file it hid is listed as deleted.
    expect(diff.filter((d) => d.startsWith('D /usr/bin/')).sort()).toEqual(['D /usr/bin/fsbox', 'D /usr/bin/hello']);
    // The image itself is shared and unchanged.
    const other = await Sandbox.create({ image });
    expect((await fsbox(other, 'cat', '/etc/motd')).out).toBe('Welcome to the strata example image.\n');
    expect((await fsbox(other, 'ls', '/usr/bin')).out).toBe('fsbox\nhello\n');
  });

  it('overlay: two sandboxes over one image share its view and nothing else', async () => {
    const a = await Sandbox.create({ image });
    const b = await Sandbox.create({ image });
    expect(a.image!.view).toBe(b.image!.view);
    await fsbox(a, 'write', '/only-a', 'a');
    expect((await fsbox(b, 'cat', '/only-a')).code).toBe(1);
  });

  it('overlay: the upper quota holds, and usage counts the upper only', async () => {
    const sandbox = await Sandbox.create({ image, tmpfs: { maxBytes: 4096 } });
    expect(sandbox.usage.bytes).toBe(0);
    const r = await fsbox(sandbox, 'write', '/big', 'x'.repeat(8192));
    expect(r.err).toContain('No space left on device');
    expect(sandbox.usage.bytes).toBeLessThanOrEqual(4096);
  });

  it('overlay: an upper in a host directory survives the sandbox', async () => {
    const dir = tempDir('strata-upper-');
    const first = await Sandbox.create({ image, upper: { dir } });
    await fsbox(first, 'write', '/kept', 'still here');
    await fsbox(first, 'rm', '/etc/motd');
    const again = await Sandbox.create({ image, upper: { dir } });
    expect((await fsbox(again, 'cat', '/kept')).out).toBe('still here');
    expect((await fsbox(again, 'cat', '/etc/motd')).code).toBe(1);
    expect(readdirSync(join(dir, 'etc'))).toContain('.wh.motd'); // the upper is an OCI changeset
    // Times set on an image file copy no data until sync() writes them into the upper.
    await again.fs.utimes('/bin/hello', 1_000_000, 1_000_000);
    again.sync();
    const third = await Sandbox.create({ image, upper: { dir } });
    expect((await third.fs.stat('/bin/hello')).mtimeMs).toBe(1_000_000_000);
    expect((await fsbox(third, 'ls', '/bin')).out).toBe('fsbox\nhello\n');
  });

  it('tmpfs: the image is copied in, quotas hold, writes stay private', async () => {
    const sandbox = await Sandbox.create({ image, root: 'tmpfs' });
    expect((await fsbox(sandbox, 'cat', '/etc/motd')).out).toContain('Welcome');
    expect((await fsbox(sandbox, 'write', '/etc/motd', 'mine')).code).toBe(0);
    expect(sandbox.usage.inodes).toBeGreaterThan(5);
    expect(await codeOf(Sandbox.create({ image, root: 'tmpfs', tmpfs: { maxBytes: 1000 } }))).toBe('ERR_INVALID_OPTION');
    const seeded = (await Sandbox.create({ image, root: 'tmpfs' })).usage.inodes;
    const small = await Sandbox.create({ image, root: 'tmpfs', tmpfs: { maxInodes: seeded + 1 } });
    expect((await fsbox(small, 'mkdir', '/a')).code).toBe(0);
    expect((await fsbox(small, 'mkdir', '/b')).err).toContain('No space left on device');
  });

  it('refuses readonly and overlay without an image, and unknown modes', async () => {
    expect(await codeOf(Sandbox.create({ root: 'readonly' }))).toBe('ERR_INVALID_OPTION');
    expect(await codeOf(Sandbox.create({ root: 'overlay' }))).toBe('ERR_INVALID_OPTION');
    expect(await codeOf(Sandbox.create({ image, root: 'bogus' as never }))).toBe('ERR_INVALID_OPTION');
  });

  it('has /dev with character devices, unless turned off', async () => {
    const sandbox = await Sandbox.create({ image });
    expect((await fsbox(sandbox, 'stat', '/dev/null')).out).toContain('type=chardev');
    expect((await fsbox(sandbox, 'write', '/dev/null', 'gone')).code).toBe(0);
    const bare = await Sandbox.create({ image, dev: false });
    expect((await fsbox(bare, 'stat', '/dev/null')).code).toBe(1);
  });
});

describe('mounts', () => {
  it('bind: read-write and read-only host directories, created mount points in a read-only root', async () => {
    const rw = tempDir('strata-bind-');
    const ro = tempDir('strata-bind-ro-');
    writeFileSync(join(ro, 'input.txt'), 'from the host');
    const sandbox = await Sandbox.create({ image, root: 'readonly', mounts: [{ type: 'bind', source: rw, target: '/out' }, { type: 'bind', source: ro, target: '/in', readonly: true }] });
    expect((await fsbox(sandbox, 'cat', '/in/input.txt')).out).toBe('from the host');
    expect((await fsbox(sandbox, 'write', '/in/x', 'no')).err).toContain('Read-only file system');
    expect((await fsbox(sandbox, 'write', '/out/result.txt', 'done')).code).toBe(0);
    expect(readFileSync(join(rw, 'result.txt'), 'utf8')).toBe('done');
  });

  it("the host's / only when asked for explicitly, and then as the root of a sandbox without an image", async () => {
    expect(await codeOf(Sandbox.create({ mounts: [{ type: 'bind', source: '/', target: '/' }] }))).toBe('ERR_INVALID_OPTION');
    expect(await codeOf(Sandbox.create({ mounts: [{ type: 'bind', source: '/', target: '/host' }] }))).toBe('ERR_INVALID_OPTION');
    expect(await codeOf(Sandbox.create({ image, mounts: [{ type: 'bind', source: '/', target: '/', allowHostRoot: true }] }))).toBe('ERR_INVALID_OPTION');
    const trusted = await Sandbox.create({ mounts: [{ type: 'bind', source: '/', target: '/', allowHostRoot: true, readonly: true }] });
    expect(text(trusted.readFile('/etc/os-release'))).toBe(readFileSync('/etc/os-release', 'utf8'));
  });

  it('close() releases the host directories of binds, volumes, overlay mounts and a host upper', async () => {
    const dir = tempDir('strata-close-');
    const upper = tempDir('strata-close-upper-');
    const sandbox = await Sandbox.create({ image, store, upper: { dir: upper }, mounts: [{ type: 'bind', source: dir, target: '/b' }, { type: 'overlay', source: dir, target: '/o' }, { type: 'volume', name: 'closing', target: '/v' }] });
    await sandbox.fs.writeFile('/b/x', '1');
    sandbox.close();
    await expect(sandbox.fs.readFile('/b/x')).rejects.toMatchObject({ code: 'EIO' });
    sandbox.close();
  });

  it('bind and overlay: a missing or non-directory host source is ERR_BAD_PATH', async () => {
    const file = join(tempDir('strata-file-'), 'f');
    writeFileSync(file, 'x');
    for (const mounts of [[{ type: 'bind', source: '/nonexistent/strata', target: '/x' }], [{ type: 'overlay', source: file, target: '/x' }]] as const) {
      expect(await codeOf(Sandbox.create({ image, mounts }))).toBe('ERR_BAD_PATH');
    }
  });

  it('overlay mount: the guest changes a host tree freely, the host is untouched until applyMount', async () => {
    const host = tempDir('strata-work-');
    writeFileSync(join(host, 'a.txt'), 'original');
    writeFileSync(join(host, 'gone.txt'), 'delete me');
    const sandbox = await Sandbox.create({ image, mounts: [{ type: 'overlay', source: host, target: '/work' }] });
    await fsbox(sandbox, 'write', '/work/a.txt', 'edited');
    await fsbox(sandbox, 'rm', '/work/gone.txt');
    await fsbox(sandbox, 'write', '/work/new.txt', 'added');
    expect(readFileSync(join(host, 'a.txt'), 'utf8')).toBe('original');
    expect(existsSync(join(host, 'new.txt'))).toBe(false);
    const changes = sandbox.mountChanges('/work', { contents: true });
    expect(changes.map((c) => `${c.kind} ${c.path}`).sort()).toEqual(['added /new.txt', 'changed /a.txt', 'deleted /gone.txt']);
    expect(text(changes.find((c) => c.path === '/a.txt')!.contents!)).toBe('edited');
    sandbox.applyMount('/work');
    expect(readFileSync(join(host, 'a.txt'), 'utf8')).toBe('edited');
    expect(readFileSync(join(host, 'new.txt'), 'utf8')).toBe('added');
    expect(existsSync(join(host, 'gone.txt'))).toBe(false);
  });

  it('overlay mount: apply refuses a file changed on the host meanwhile, naming it, and writes nothing', async () => {
    const host = tempDir('strata-work-');
    writeFileSync(join(host, 'a.txt'), 'original');
    writeFileSync(join(host, 'b.txt'), 'b');
    const sandbox = await Sandbox.create({ image, mounts: [{ type: 'overlay', source: host, target: '/work' }] });
    await fsbox(sandbox, 'write', '/work/a.txt', 'guest');
    await fsbox(sandbox, 'write', '/work/b.txt', 'guest');
    writeFileSync(join(host, 'a.txt'), 'host edit, longer');
    let error: unknown;
    try {
      sandbox.applyMount('/work');
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('ERR_APPLY_CONFLICT');
    expect((error as Error).message).toContain('a.txt');
    expect(readFileSync(join(host, 'b.txt'), 'utf8')).toBe('b');
  });

  it('volume: named, persistent, shared only by sandboxes that name it', async () => {
    const a = await Sandbox.create({ image, store, mounts: [{ type: 'volume', name: 'cache', target: '/cache' }] });
    await fsbox(a, 'write', '/cache/entry', 'v1');
    const b = await Sandbox.create({ image, store, mounts: [{ type: 'volume', name: 'cache', target: '/data' }] });
    expect((await fsbox(b, 'cat', '/data/entry')).out).toBe('v1');
    const c = await Sandbox.create({ image, store, mounts: [{ type: 'volume', name: 'other', target: '/cache' }] });
    expect((await fsbox(c, 'ls', '/cache')).out).toBe('');
    expect(await codeOf(Sandbox.create({ image, store, mounts: [{ type: 'volume', name: '../x', target: '/v' }] }))).toBe('ERR_INVALID_OPTION');
  });

  it('identity: read-only files injected at start, outside the overlay upper', async () => {
    const sandbox = await Sandbox.create({ image, mounts: [{ type: 'identity', target: '/run/strata', files: { token: 's3cret', 'certs/ca.pem': 'PEM' } }] });
    expect((await fsbox(sandbox, 'cat', '/run/strata/token', '/run/strata/certs/ca.pem')).out).toBe('s3cretPEM');
    expect((await fsbox(sandbox, 'write', '/run/strata/token', 'x')).err).toContain('Read-only file system');
    expect(sandbox.diff().filter((c) => c.path.startsWith('/run'))).toEqual([]);
    expect(await codeOf(Sandbox.create({ mounts: [{ type: 'identity', target: '/id', files: { '../x': 'y' } }] }))).toBe('ERR_INVALID_OPTION');
  });

  it('tmpfs mount: its own size limit', async () => {
    const sandbox = await Sandbox.create({ image, mounts: [{ type: 'tmpfs', target: '/scratch', size: 1024 }] });
    expect((await fsbox(sandbox, 'write', '/scratch/a', 'x'.repeat(2048))).err).toContain('No space left on device');
  });

  it('refuses bad mount specs with ERR_INVALID_OPTION', async () => {
    for (const mounts of [
      [{ type: 'tmpfs', target: 'relative' }],
      [{ type: 'tmpfs', target: '/a/../b' }],
      [{ type: 'nfs', target: '/x' }],
      [{ type: 'tmpfs', target: '/x', size: -1 }],
      [{ type: 'tmpfs', target: '/x' }, { type: 'tmpfs', target: '/x/' }],
      [{ type: 'bind', target: '/x' }],
    ]) {
      expect(await codeOf(Sandbox.create({ mounts: mounts as never })), JSON.stringify(mounts)).toBe('ERR_INVALID_OPTION');
    }
  });
});

describe('wasm artifact images', () => {
  it('runs the module of a wasm OCI artifact with no command given', async () => {
    const dir = tempDir('strata-artifact-');
    const layout = new Layout(dir);
    layout.tag(layout.wasmArtifact(guestBytes('hello'), 'hello.wasm'), 'latest');
    const sandbox = await Sandbox.create({ image: `oci:${dir}`, store });
    expect(text((await sandbox.exec()).stdout)).toBe('hello, world\n');
    expect(text((await sandbox.exec(['/hello.wasm', 'artifact'])).stdout)).toBe('hello, artifact\n');
  });
});

describe('a hard-linked image file', () => {
  it('copies up once: both names see the write, nlink stays 2', async () => {
    const dir = tempDir('strata-links-');
    const layout = new Layout(dir);
    mkdirSync(dir, { recursive: true });
    const { t, tar } = await import('../support/tar-dsl.js');
    const { gzipSync } = await import('node:zlib');
    const { sha256 } = await import('../support/image-layout.js');
    const layer = await tar(t.dir('bin/'), t.file('bin/fsbox', guestBytes('fsbox'), { mode: 0o755 }), t.file('data/a', 'shared'), t.link('data/a', 'data/b'));
    const config = layout.json({ architecture: 'wasm', os: 'wasip1', config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }, 'application/vnd.oci.image.config.v1+json');
    const layerDesc = layout.blob(gzipSync(layer), 'application/vnd.oci.image.layer.v1.tar+gzip');
    layout.tag(layout.json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layerDesc] }, 'application/vnd.oci.image.manifest.v1+json'), 'latest');
    const sandbox = await Sandbox.create({ image: `oci:${dir}`, store });
    expect((await fsbox(sandbox, 'stat', '/data/b')).out).toBe('type=file size=6 nlink=2\n');
    expect((await fsbox(sandbox, 'append', '/data/a', '+more')).code).toBe(0);
    expect((await fsbox(sandbox, 'cat', '/data/b')).out).toBe('shared+more');
    expect((await fsbox(sandbox, 'stat', '/data/b')).out).toBe('type=file size=11 nlink=2\n');
  });
});
