/**
 * The oci-runtime backend run by an unprivileged user, for real: the test
 * process (root) runs a Node script from the built `dist/` under
 * `setpriv --reuid=65534 --regid=65534 --clear-groups`, with HOME, TMPDIR
 * and XDG_RUNTIME_DIR in a temp dir that user owns. The script pulls the
 * busybox image into its own store (from an OCI layout copied for it) and
 * reports what runc, crun and runsc do rootless: exit codes, stdio, EROFS
 * on a readonly root, an overlay root's copy-on-write writes and their
 * filesystem checkpoint restored, tmpfs, bind and identity mounts, and
 * the refusals (runsc, a tmpfs root, cgroup limits). Afterwards nothing of
 * that user is left: no bundle, no process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, busyboxMotd, busyboxTools } from '../support/busybox-image.js';
import { bundleDirs, OciRuntimeBackend, runtimeConfig } from './oci-runtime-fixture.js';
import { ImageStore } from '../../src/oci/index.js';
import { text } from '../support/guests.js';
import { requireTool } from '../support/host-tool.js';
import { runtimeConfigCheck, specPresent } from '../support/published-specs.js';

const uid = 65534;
const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const ready = requireTool(...busyboxTools, 'runc', 'crun', 'runsc', 'setpriv', 'unshare') && process.getuid?.() === 0 && builtDist();

/** The backend as built in dist/ (`npm test` builds first); a clear error when it is missing or older than src/. */
function builtDist(): boolean {
  const built = join(dist, 'backends/oci-runtime/oci-runtime-backend.js');
  const source = fileURLToPath(new URL('../../src/backends/oci-runtime/oci-runtime-backend.ts', import.meta.url));
  if (existsSync(built) && statSync(built).mtimeMs >= statSync(source).mtimeMs) return true;
  throw new Error(`${built} is missing or older than its source: run 'npm run build' (or npx tsc -p tsconfig.build.json) first`);
}

/** The script the unprivileged user runs: argv[2] the class, argv[3] the OCI layout reference; prints one JSON report. */
const child = String.raw`
const [cls, layoutRef, distDir, home] = process.argv.slice(1);
const { OciRuntimeBackend, chainKey, probeAsset } = await import(distDir + 'backends/index.js');
const { ImageStore, pull } = await import(distDir + 'oci/index.js');
const { execFileSync } = await import('node:child_process');
const { existsSync, mkdirSync, writeFileSync, readFileSync, readdirSync } = await import('node:fs');
const report = {};
const error = (e) => ({ code: e.code, message: e.message });
const text = (b) => Buffer.from(b).toString();
const store = await ImageStore.open(home + '/store');
const record = await pull(layoutRef, { store });
const image = { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((l) => l.diffID ?? l.digest) };
const path = execFileSync('sh', ['-c', 'command -v ' + cls], { encoding: 'utf8' }).trim();
const config = { assets: [await probeAsset(cls, path)], config: {} };
const backend = new OciRuntimeBackend(cls, config);
const manifest = (mode, mounts = []) => ({ class: cls, image, root: { mode }, mounts, process: { args: ['/bin/cat', '/etc/motd'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] });
const run = async (p, args) => {
  const exit = await (await backend.exec(p, { args })).wait();
  return { code: exit.code, reason: exit.reason, stdout: text(exit.stdout), stderr: text(exit.stderr) };
};
const sh = (script) => ['/bin/sh', '-c', script];
mkdirSync(home + '/data');
writeFileSync(home + '/data/given', 'from the host\n');
const mounts = [
  { type: 'tmpfs', target: '/scratch', size: 1 << 20, inodes: 64 },
  { type: 'bind', target: '/data', source: home + '/data', readonly: true },
  { type: 'identity', target: '/run/strata' },
];
const identity = [{ type: 'identity', target: '/run/strata', files: { token: 'secret' } }];
const started = Date.now();
try {
  const p = await backend.prepare(manifest('readonly', mounts), { store, identity });
  try {
    const start = await (await backend.start(p)).wait();
    report.readonly = {
      start: { code: start.code, stdout: text(start.stdout) },
      exit7: await run(p, sh('echo out; echo err >&2; exit 7')),
      erofs: await run(p, sh('echo x > /etc/motd')),
      tmpfsWrite: await run(p, sh('echo kept > /scratch/f && grep " /scratch " /proc/mounts')),
      tmpfsRead: await run(p, ['/bin/cat', '/scratch/f']),
      bind: await run(p, ['/bin/cat', '/data/given']),
      bindRo: await run(p, sh('touch /data/new')),
      identity: await run(p, ['/bin/cat', '/run/strata/token']),
      uidMap: await run(p, ['/bin/cat', '/proc/self/uid_map']),
      config: JSON.parse(readFileSync(p.bundle.dir + '/config.json', 'utf8')),
    };
  } finally {
    await backend.cleanup(p);
  }
} catch (e) {
  report.readonly = { error: error(e) };
}
try {
  const p = await backend.prepare(manifest('overlay', [{ type: 'overlay', target: '/layered', source: home + '/data' }, { type: 'volume', target: '/vol', name: 'v1' }]), { store });
  try {
    report.overlay = {
      hostMounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(p.bundle.dir)),
      overlayMount: await run(p, sh('echo more > /layered/more && cat /layered/given /layered/more')),
      volume: await run(p, sh('echo v > /vol/f && cat /vol/f')),
      write: await run(p, sh('echo new > /root/new && rm /etc/motd && rm -rf /usr/sbin && mkdir /usr/sbin && echo s > /usr/sbin/only')),
      read: await run(p, sh('cat /root/new; ls /etc /usr/sbin')),
    };
    const cp = await backend.checkpoint(p);
    report.overlay.delta = cp.manifest.delta.length;
    report.overlay.deltaSize = cp.manifest.delta[0]?.size;
    report.overlay.snapshot = cp.digest;
    const r = await backend.restore(cp.digest, { store });
    try {
      report.overlay.restored = await run(r, sh('cat /root/new; ls /etc /usr/sbin'));
    } finally {
      await backend.cleanup(r);
    }
    const tree = store.root + '/rootfs/' + chainKey(image.diffIDs) + '/tree';
    report.overlay.cachedMotd = readFileSync(tree + '/etc/motd', 'utf8');
    // Mount points the runtimes made (the readonly sandbox's too) went to the uppers, not into the shared tree.
    report.overlay.cachedExtra = ['/.strata-pause', '/scratch', '/data', '/layered', '/vol', '/root/new'].filter((p) => existsSync(tree + p));
  } finally {
    await backend.cleanup(p);
  }
} catch (e) {
  report.overlay = { error: error(e) };
}
report.tmpfsRoot = await backend.prepare(manifest('tmpfs'), { store }).then(() => 'prepared', error);
report.limits = await new OciRuntimeBackend(cls, { ...config, config: { limits: { memoryBytes: 64 << 20 } } }).prepare(manifest('overlay'), { store }).then(() => 'prepared', error);
report.ms = Date.now() - started;
report.bundles = readdirSync(process.env.TMPDIR).filter((n) => n.startsWith('strata-oci-'));
console.log(JSON.stringify(report));
`;

interface Ran {
  code?: number | null;
  stdout?: string;
  stderr?: string;
}
type Report = Record<string, Record<string, Ran> & { error?: { code: string; message: string }; config?: Record<string, unknown>; delta?: number; cachedMotd?: string; deltaSize?: number; snapshot?: string; hostMounts?: string[]; cachedExtra?: string[] }> & { tmpfsRoot: { code: string; message: string }; limits: { code: string; message: string }; bundles: string[]; ms: number };

const home = mkdtempSync(join(tmpdir(), 'strata-oci-rootless-'));

/** Run the script as uid 65534 for `cls`; resolves to its report (or rejects with its stderr). */
function runUnprivileged(cls: string, layoutRef: string): Promise<Report> {
  const dir = join(home, cls);
  for (const sub of ['', 'tmp', 'run']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  for (const sub of ['', 'tmp', 'run']) chownSync(join(dir, sub), uid, uid);
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, TMPDIR: join(dir, 'tmp'), XDG_RUNTIME_DIR: join(dir, 'run'), STRATA_HOME: join(dir, 'strata') };
  const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', child, cls, layoutRef, dist, dir];
  return new Promise((resolve, reject) => {
    const p = spawn('setpriv', argv, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Report);
      else reject(new Error(`the unprivileged ${cls} run exited ${String(code)}: ${stderr}${stdout}`));
    });
  });
}

/** Processes of uid 65534 still running (zombies are the host init's to reap): `pid stat args`. */
function liveProcesses(): string[] {
  const r = spawnSync('ps', ['-u', String(uid), '-o', 'pid=,stat=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^\d+\s+Z/.test(l));
}

const before = new Set(bundleDirs());

afterAll(() => {
  expect(bundleDirs().filter((d) => !before.has(d))).toEqual([]);
  // If a run died before its own cleanup, its sandboxes' pause inits are still there: end them by pid.
  for (const line of liveProcesses().filter((l) => l.includes('/.strata-pause'))) process.kill(Number.parseInt(line, 10), 'SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!ready)('oci-runtime backend, unprivileged (uid 65534)', () => {
  const reports: Record<string, Report> = {};
  let runsc: Report | Error;
  beforeAll(async () => {
    chownSync(home, uid, uid);
    const layout = join(home, 'layout');
    cpSync(busyboxLayout().layout, layout, { recursive: true });
    spawnSync('chown', ['-R', `${uid}:${uid}`, layout]);
    const ref = `oci:${layout}:${busyboxLayout().tag}`;
    const [runc, crun] = await Promise.all([runUnprivileged('runc', ref), runUnprivileged('crun', ref)]);
    reports['runc'] = runc;
    reports['crun'] = crun;
    runsc = await runUnprivileged('runsc', ref).catch((e: Error) => e);
  }, 60_000);

  describe.each(['runc', 'crun'])('%s', (cls) => {
    it('readonly root: exit codes, stdio, EROFS, tmpfs, read-only bind and identity mounts, a user namespace of the caller', () => {
      const r = reports[cls]!.readonly!;
      expect(r.error).toBeUndefined();
      expect(r['start']).toEqual({ code: 0, stdout: busyboxMotd });
      expect(r['exit7']).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
      expect(r['erofs']).toMatchObject({ code: 1, stderr: expect.stringMatching(/Read-only file system/) });
      expect(r['tmpfsWrite']).toMatchObject({ code: 0, stdout: expect.stringMatching(/^tmpfs \/scratch tmpfs .*size=1024k/) });
      expect(r['tmpfsRead']).toMatchObject({ code: 0, stdout: 'kept\n' });
      expect(r['bind']).toMatchObject({ code: 0, stdout: 'from the host\n' });
      expect(r['bindRo']).toMatchObject({ code: 1, stderr: expect.stringMatching(/Read-only file system/) });
      expect(r['identity']).toMatchObject({ code: 0, stdout: 'secret' });
      // Container root is the caller: 65534 on the host (crun: through its wrapper's namespace, where the caller is 0).
      expect(r['uidMap']!.stdout!.trim().split(/\s+/)).toEqual(['0', cls === 'runc' ? '65534' : '0', '1']);
      expect((r.config!['linux'] as { resources?: unknown }).resources).toBeUndefined();
      expect(r.config!['root']).toMatchObject({ readonly: true });
      if (specPresent('oci-runtime-spec/config-schema.json')) expect(runtimeConfigCheck()(r.config)).toEqual([]);
    });

    it('overlay root: copy-on-write with no host mount; writes, deletes and a replaced directory seen, checkpointed and restored; the cached tree untouched', () => {
      const r = reports[cls]!.overlay!;
      expect(r.error).toBeUndefined();
      expect(r['hostMounts']).toEqual([]);
      expect(r['write']).toMatchObject({ code: 0 });
      expect(r['read']).toMatchObject({ code: 0, stdout: 'new\n/etc:\ngroup\npasswd\n\n/usr/sbin:\nonly\n' });
      expect(r['overlayMount']).toMatchObject({ code: 0, stdout: 'from the host\nmore\n' });
      expect(r['volume']).toMatchObject({ code: 0, stdout: 'v\n' });
      // The delta holds the changes only (/root/new, a whiteout for /etc/motd, /usr/sbin replaced), not the tree.
      expect(r.delta).toBe(1);
      expect(r.deltaSize).toBeLessThan(1024);
      expect(r['restored']).toMatchObject({ code: 0, stdout: 'new\n/etc:\ngroup\npasswd\n\n/usr/sbin:\nonly\n' });
      expect(r.cachedMotd).toBe(busyboxMotd);
      expect(r.cachedExtra).toEqual([]);
    });

    it('its snapshot restores as root, the written files owned by container root', async () => {
      const backend = new OciRuntimeBackend(cls as 'runc' | 'crun', await runtimeConfig(cls as 'runc' | 'crun'));
      // The extracted-tree cache holds trees as their builder could make them (uid 65534 owned everything): root builds its own.
      rmSync(join(home, cls, 'store', 'rootfs'), { recursive: true, force: true });
      const restored = await backend.restore(reports[cls]!.overlay!.snapshot!, { store: await ImageStore.open(join(home, cls, 'store')) });
      try {
        const exit = await (await backend.exec(restored, { args: ['/bin/sh', '-c', 'stat -c %u:%g /root/new; cat /root/new; ls /etc'] })).wait();
        expect({ code: exit.code, stdout: text(exit.stdout) }).toEqual({ code: 0, stdout: '0:0\nnew\ngroup\npasswd\n' });
      } finally {
        await backend.cleanup(restored);
      }
    });

    it('refuses a tmpfs root and cgroup limits with ERR_INVALID_OPTION naming why', () => {
      const r = reports[cls]!;
      expect(r.tmpfsRoot).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/tmpfs root needs a host tmpfs mount/) });
      expect(r.limits).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/limits\.memoryBytes needs a cgroup/) });
    });

    it('leaves no bundle', () => {
      expect(reports[cls]!.bundles).toEqual([]);
      expect(readdirSync(join(home, cls, 'tmp')).filter((n) => n.startsWith('strata-oci-'))).toEqual([]);
    });
  });

  it('runsc is refused with ERR_INVALID_OPTION (its gofer fails unprivileged)', () => {
    expect(runsc).not.toBeInstanceOf(Error);
    const r = runsc as Report;
    for (const what of [r.readonly!.error, r.overlay!.error, r.tmpfsRoot]) expect(what).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/runsc backend runs as root only/) });
  });

  it('leaves no process of the unprivileged user', () => {
    expect(liveProcesses()).toEqual([]);
  });
});
