/**
 * The qemu backend for real: the busybox image in a QEMU microVM (TCG
 * here), each root mode, mounts, stdio, exit codes, the timeout, and
 * filesystem snapshots to and from the wasm backend. Boots are batched:
 * one shell script checks many things per boot.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultHostConfig, selectBackend, type QemuPrepared, type Backend, type BackendManifest, type ManifestMount, type ManifestRootMode, type Prepared } from '../../src/backends/index.js';
import { liveVms } from '../../src/backends/microvm/index.js';
import { Sandbox } from '../../src/index.js';
import { busyboxImage, busyboxLayoutWith, busyboxMotd, type BusyboxImage } from '../support/busybox-image.js';
import { guestBytes, text } from '../support/guests.js';
import { SnapshotStore, type SnapshotManifest } from '../../src/snapshot/index.js';
import { expectNoStrayQemu, haveMicrovmTools, qemuConfig } from './microvm-host.js';

// Each test boots the VM a few times (~3 s each under TCG, more on a loaded host).
vi.setConfig({ testTimeout: 240_000 });

describe.skipIf(!haveMicrovmTools())('qemu microVM backend', () => {
  let backend: Backend;
  let image: BusyboxImage;
  let share: string;
  const prepared: Prepared[] = [];
  const manifest = (mode: ManifestRootMode, mounts: ManifestMount[] = [], limits = { maxBytes: 32 << 20, maxInodes: 4096 }): BackendManifest => ({
    class: 'qemu', image: image.image, root: { mode, limits }, mounts,
    process: { args: ['/bin/sh'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [],
  });
  const prepare = async (m: BackendManifest) => {
    const p = await backend.prepare(m, { store: image.store, binds: { '/data': share }, identity: [{ type: 'identity', target: '/run/strata', files: { token: 'secret' } }] });
    prepared.push(p);
    return p;
  };
  const sh = async (p: Prepared, script: string, extra: { timeoutMs?: number; stdin?: string } = {}) => {
    const exit = await (await backend.exec(p, { args: ['/bin/sh', '-c', script], ...extra })).wait();
    return { ...exit, out: text(exit.stdout), err: text(exit.stderr) };
  };

  beforeAll(async () => {
    backend = selectBackend('qemu', { classes: { qemu: await qemuConfig() } });
    // busybox for the VM, fsbox.wasm for the wasm backend, over the same files.
    image = await busyboxImage({ layout: busyboxLayoutWith('wasm', { '/usr/bin/fsbox': guestBytes('fsbox') }) });
    share = mkdtempSync(join(tmpdir(), 'strata-vm-share-'));
    writeFileSync(join(share, 'f'), 'from the host\n');
  }, 600_000);

  afterAll(async () => {
    for (const p of prepared) await backend.cleanup(p);
    for (const p of prepared) expect(existsSync((p as QemuPrepared).dir)).toBe(false);
    rmSync(share, { recursive: true, force: true });
    expect(liveVms()).toBe(0);
    expectNoStrayQemu();
  });

  it('readonly root: EROFS, tmpfs quota, read-only 9p bind, identity, argv/env/cwd/stdin, separate stdout and stderr, exit code', async () => {
    const p = await prepare(manifest('readonly', [{ type: 'tmpfs', target: '/scratch', size: 1 << 20, inodes: 64 }, { type: 'bind', target: '/data', readonly: true }, { type: 'identity', target: '/run/strata' }]));
    const script = [
      'echo x > /etc/motd 2>/dev/null || echo "motd: EROFS"',
      'echo hi > /scratch/a && cat /scratch/a',
      'dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null || echo "scratch: ENOSPC"',
      'cat /data/f; echo y > /data/g 2>/dev/null || echo "data: EROFS"',
      'cat /run/strata/token; echo',
      'echo "cwd=$(pwd) X=$X args=$#:$1"; cat',
      'echo to-stderr >&2; exit 3',
    ].join('\n');
    const exit = await (await backend.exec(p, { args: ['/bin/sh', '-c', script, 'sh', 'one two'], env: ['X=a b'], workdir: '/tmp', stdin: 'piped in\n' })).wait();
    expect({ reason: exit.reason, code: exit.code, out: text(exit.stdout), err: text(exit.stderr) }).toEqual({
      reason: 'exit', code: 3,
      out: 'motd: EROFS\nhi\nscratch: ENOSPC\nfrom the host\ndata: EROFS\nsecret\ncwd=/tmp X=a b args=1:one two\npiped in\n',
      err: "sh: line 0: can't create /etc/motd: Read-only file system\nsh: line 3: can't create /data/g: Read-only file system\nto-stderr\n",
    });
    expect(readFileSync(join(share, 'f'), 'utf8')).toBe('from the host\n');
  });

  it('overlay root: copy-up and deletes persist across boots, the image stays; a checkpoint restores on the wasm backend', async () => {
    const p = await prepare(manifest('overlay'));
    const first = await sh(p, 'echo changed > /etc/motd && rm /etc/group && mkdir -p /work && echo made > /work/new && rm -r /usr/sbin && mkdir /usr/sbin && echo in > /usr/sbin/x && echo done');
    expect({ reason: first.reason, code: first.code, out: first.out, err: first.err }).toEqual({ reason: 'exit', code: 0, out: 'done\n', err: '' });
    const second = await sh(p, 'cat /etc/motd /work/new /usr/sbin/x; ls /usr/sbin; ls /etc/group 2>&1; exit 0');
    expect(second.out).toBe('changed\nmade\nin\nx\nls: /etc/group: No such file or directory\n');
    const other = await prepare(manifest('overlay'));
    expect((await sh(other, 'cat /etc/motd')).out).toBe(busyboxMotd);

    const memory = backend.checkpoint(p, { memory: true } as Parameters<Backend['checkpoint']>[1]);
    await expect(memory).rejects.toThrow(/needs a running process/);
    const { digest, manifest: snap } = await backend.checkpoint(p, { labels: { from: 'qemu' } });
    expect(snap.class).toBe('qemu');
    expect(snap.backend.assets.map((a) => a.name)).toEqual(['qemu', 'kernel', 'initramfs']);
    // Through the Backend interface: the same delta, recorded for the wasm class (as oci-runtime-wasm.test.ts moves them).
    const wasm = selectBackend('wasm', await defaultHostConfig());
    const moved = await new SnapshotStore(image.store).adopt({ ...(snap as SnapshotManifest), class: 'wasm', backend: { assets: [], config: {} } });
    const onWasm = await wasm.restore(moved.digest, { store: image.store });
    try {
      const cat = async (path: string) => text((await (await wasm.exec(onWasm, { args: ['fsbox', 'cat', path] })).wait()).stdout);
      expect(await cat('/etc/motd')).toBe('changed\n');
      expect(await cat('/usr/sbin/x')).toBe('in\n');
    } finally {
      await wasm.cleanup(onWasm);
    }
    const sandbox = await Sandbox.create({ from: digest, store: image.store });
    try {
      expect(await sandbox.fs.readFile('/etc/motd', 'utf8')).toBe('changed\n');
      expect(await sandbox.fs.readFile('/work/new', 'utf8')).toBe('made\n');
      // /usr/sbin was removed and made again: an opaque directory hides the image's applets.
      expect(await sandbox.fs.readdir('/usr/sbin')).toEqual(['x']);
      expect(await sandbox.fs.readFile('/usr/sbin/x', 'utf8')).toBe('in\n');
      expect((await sandbox.fs.readdir('/usr/bin')).length).toBeGreaterThan(10);
      await expect(sandbox.fs.readFile('/etc/group', 'utf8')).rejects.toThrow();
      expect(await sandbox.fs.readFile('/etc/passwd', 'utf8')).toContain('root:x:0:0');
    } finally {
      sandbox.close();
    }
  });

  it('a wasm snapshot restores in the microVM, and its checkpoint chains on it', async () => {
    const sandbox = await Sandbox.create({ image: image.reference, store: image.store, root: 'overlay' });
    await sandbox.fs.writeFile('/etc/motd', 'from wasm\n');
    await sandbox.fs.writeFile('/wasm-file', 'w\n');
    const { digest } = await sandbox.commit();
    sandbox.close();
    const p = await backend.restore(digest, { store: image.store, identity: [] });
    prepared.push(p);
    const run = await sh(p, 'cat /etc/motd /wasm-file; echo more > /wasm-file');
    expect({ code: run.code, out: run.out }).toEqual({ code: 0, out: 'from wasm\nw\n' });
    const { digest: again, manifest: snap } = await backend.checkpoint(p);
    expect(snap.parent).toBe(digest);
    const back = await Sandbox.create({ from: again, store: image.store });
    try {
      expect(await back.fs.readFile('/wasm-file', 'utf8')).toBe('more\n');
      expect(await back.fs.readFile('/etc/motd', 'utf8')).toBe('from wasm\n');
    } finally {
      back.close();
    }
  });

  it('a memory checkpoint of a running process: the VM goes on, and the snapshot resumes where it was (TCG)', async () => {
    const p = await prepare(manifest('overlay'));
    const chunks: string[] = [];
    let ticked!: () => void;
    const third = new Promise<void>((r) => (ticked = r));
    const job = 'echo before > /f; i=0; while [ $i -lt 40 ]; do echo tick $i; i=$((i+1)); j=0; while [ $j -lt 3000 ]; do j=$((j+1)); done; done; cat /f; exit 7';
    const running = await backend.exec(p, { args: ['/bin/sh', '-c', job], stdout: (c) => {
      chunks.push(text(c));
      if (chunks.join('').includes('tick 3\n')) ticked();
    } });
    await third;
    const { digest, manifest: snap } = await backend.checkpoint(p, { memory: true } as Parameters<Backend['checkpoint']>[1]);
    expect((snap.backend.config as { memory?: object }).memory).toBeDefined();
    const original = await running.wait();
    expect({ code: original.code, end: chunks.join('').trim().split('\n').slice(-2) }).toEqual({ code: 7, end: ['tick 39', 'before'] });

    const restored = await backend.restore(digest, { store: image.store, identity: [] });
    prepared.push(restored);
    const resumed = await (await backend.start(restored)).wait();
    const lines = text(resumed.stdout).trim().split('\n');
    expect({ reason: resumed.reason, code: resumed.code, last: lines.slice(-2) }).toEqual({ reason: 'exit', code: 7, last: ['tick 39', 'before'] });
    // It went on from where the checkpoint stopped it, not from the start.
    expect(lines[0]).not.toBe('tick 0');
    expect(Number(/tick (\d+)/.exec(lines[0]!)![1])).toBeGreaterThan(3);
    expect((await sh(restored, 'cat /f')).out).toBe('before\n');
  });

  it('tmpfs root: private, persists between processes, byte and inode quotas hold', async () => {
    const p = await prepare(manifest('tmpfs', [], { maxBytes: 8 << 20, maxInodes: 512 }));
    const first = await sh(p, 'echo t > /etc/motd; dd if=/dev/zero of=/big bs=1M count=16 2>/dev/null || echo ENOSPC; rm -f /big; i=0; while [ $i -lt 3000 ]; do touch /f$i 2>/dev/null || break; i=$((i+1)); done; echo "inodes stop at $i"; rm -f /f*; df -k / | tail -1 | awk \'{print $2}\'');
    expect({ code: first.code, err: first.err }).toEqual({ code: 0, err: '' });
    const lines = first.out.trim().split('\n');
    expect(lines[0]).toBe('ENOSPC');
    expect(Number(/inodes stop at (\d+)/.exec(lines[1]!)![1])).toBeLessThan(512);
    expect(Number(lines[2])).toBe(8192);
    expect((await sh(p, 'cat /etc/motd')).out).toBe('t\n');
  });

  it('exit codes, a timeout that kills the VM, and kill', async () => {
    const p = await prepare(manifest('readonly'));
    expect((await sh(p, 'exit 200')).code).toBe(200);
    expect((await sh(p, 'kill -9 $$')).code).toBe(137);
    const slow = await sh(p, 'echo started; sleep 600', { timeoutMs: 8000 });
    expect({ reason: slow.reason, signal: slow.signal, code: slow.error && (slow.error as { code?: string }).code }).toEqual({ reason: 'timeout', signal: 'SIGKILL', code: 'ERR_TIMEOUT' });
    const killed = await backend.exec(p, { args: ['/bin/sleep', '600'] });
    await killed.kill();
    expect((await killed.wait()).reason).toBe('killed');
    expect(liveVms()).toBe(0);
    expectNoStrayQemu();
  });
});
