/**
 * The host side of the microVM guest protocol, without a VM: the job drive
 * refuses what the guest could not pass on faithfully, and the guest's
 * exported tar becomes an OCI changeset (whiteouts, opaque directories).
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { writeJob, type Job } from '../../src/backends/microvm/index.js';
import { exportedLayer, parseOpaque } from '../../src/backends/microvm/export-layer.js';
import { ImageStore } from '../../src/oci/index.js';
import { codeOf } from '../support/error-code.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-microvm-job-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const job: Job = { action: 'run', args: ['/bin/sh', '-c', 'echo "$X"'], env: ['X=a b'], workdir: '/tmp', stdin: new Uint8Array([1, 2]), rootBytes: 1 << 20, rootInodes: 64, stateBytes: 0, identity: [{ type: 'identity', target: '/run/strata', files: { token: 't', 'a/b': 'c' } }] };

async function members(file: string, gzip: boolean): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const reader = extract();
  const done = (async () => {
    for await (const entry of reader) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out[entry.header.name] = entry.header.type === 'file' ? Buffer.concat(chunks).toString('utf8') : entry.header.type ?? '';
    }
  })();
  await Promise.all([gzip ? pipeline(createReadStream(file), createGunzip(), reader) : pipeline(createReadStream(file), reader), done]);
  return out;
}

describe('microVM job drive', () => {
  it('holds the config, NUL-separated argv and env, cwd, stdin and identity files', async () => {
    const file = join(dir, 'job.tar');
    await writeJob(file, job);
    expect(readFileSync(file).length % 512).toBe(0);
    expect(await members(file, false)).toMatchObject({
      config: 'ACTION=run\nROOT_BYTES=1048576\nROOT_INODES=64\nSTATE=0\nSTATE_BYTES=0\n',
      argv0: '/bin/sh\0-c\0echo "$X"\0',
      env0: 'X=a b\0',
      cwd: '/tmp',
      stdin: '\u0001\u0002',
      'identity/0/token': 't',
      'identity/0/a/b': 'c',
    });
  });

  it.each([
    ['an empty argv', { args: [] }],
    ['a NUL in an argument', { args: ['a\0b'] }],
    ['an env entry without =', { env: ['JUSTNAME'] }],
    ['a relative workdir', { workdir: 'tmp' }],
    ['a huge argv', { args: ['x'.repeat(100_000)] }],
    ['an escaping identity file', { identity: [{ type: 'identity' as const, target: '/run/strata', files: { '../x': 'y' } }] }],
  ])('refuses %s with ERR_INVALID_OPTION', async (_name, change) => {
    expect(await codeOf(writeJob(join(dir, 'bad.tar'), { ...job, ...change }))).toBe('ERR_INVALID_OPTION');
  });
});

describe("the guest's export as an OCI delta layer", () => {
  it('turns 0/0 character devices into .wh. files, marks opaque directories, drops other devices', async () => {
    const guest = join(dir, 'guest.tar');
    const tar = pack();
    const chunks: Buffer[] = [];
    tar.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    const ended = new Promise<void>((r) => tar.on('end', () => r()));
    tar.entry({ name: './', type: 'directory', mode: 0o755 });
    tar.entry({ name: './etc/', type: 'directory', mode: 0o755 });
    tar.entry({ name: './etc/motd', mode: 0o644 }, 'changed\n');
    tar.entry({ name: './etc/group', type: 'character-device', devmajor: 0, devminor: 0, mode: 0 });
    tar.entry({ name: './usr/sbin/', type: 'directory', mode: 0o755 });
    tar.entry({ name: './usr/sbin/x', mode: 0o644 }, 'in\n');
    tar.entry({ name: './dev-null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 });
    tar.finalize();
    await ended;
    // The drive is bigger than the tar: zeros after it are ignored.
    writeFileSync(guest, Buffer.concat([...chunks, Buffer.alloc(8192)]));
    const store = await ImageStore.open(join(dir, 'store'));
    const layer = await exportedLayer(store.blobs, guest, parseOpaque(`opaque ${Buffer.from('./usr/sbin\0').toString('base64')}`));
    expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const names = await members(store.blobs.path(layer.digest), true);
    expect(names).toEqual({ etc: 'directory', 'etc/motd': 'changed\n', 'etc/.wh.group': '', 'usr/sbin': 'directory', 'usr/sbin/.wh..wh..opq': '', 'usr/sbin/x': 'in\n' });
  });
});
