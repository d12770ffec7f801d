/**
 * A small Linux image for the OCI-runtime and microVM backends' tests,
 * built once per test process with umoci from Debian's `busybox-static`
 * (`/bin/busybox`, one static binary), then pushed to a test registry and
 * pulled into an `ImageStore`.
 *
 * Contents: `/bin/busybox`, every applet as a symlink to it at the path
 * `busybox --list-full` gives (`/bin/sh`, `/bin/cat`, `/usr/bin/env`…),
 * `/etc/passwd` and `/etc/group` (root, nobody), `/etc/motd` (= {@link
 * busyboxMotd}), and empty `/tmp` (1777), `/root`, `/proc`, `/sys`, `/dev`,
 * `/run`. The config: `Cmd ["/bin/sh"]`, `Env ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]`,
 * `WorkingDir /`, os linux, this host's architecture.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { hostArch } from '../../src/backends/index.js';
import { ImageStore, pull, type ImageRecord } from '../../src/oci/index.js';
import { requireTool } from './host-tool.js';
import { pushImage, tool, type TestRegistry } from './registry.js';

/** Where Debian's busybox-static installs its binary. */
export const busyboxPath = '/bin/busybox';

/** The contents of the image's `/etc/motd`. */
export const busyboxMotd = 'Welcome to the strata busybox image.\n';

/** The image config's environment. */
export const busyboxEnv = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];

/** The host tools building and serving the image needs; pass to `requireTool`. */
export const busyboxTools = ['umoci', 'skopeo', 'docker-registry', 'busybox'] as const;

/** An OCI image layout holding the busybox image under {@link BusyboxLayout.tag}. */
export interface BusyboxLayout {
  readonly layout: string;
  readonly tag: string;
  /** `oci:LAYOUT:TAG`. */
  readonly reference: string;
}

let built: BusyboxLayout | undefined;

const dirPrefixes = ['strata-busybox-image-', 'strata-busybox-store-', 'strata-busybox-extra-'];

/**
 * A temp directory of this process (`PREFIX<pid>-XXXXXX`), removed at exit.
 * A test worker killed by a signal never runs its exit handlers, so each
 * process first removes what dead processes left: directories whose pid
 * no longer runs (and unnamed ones from before, older than an hour).
 */
function ownTempDir(prefix: string): string {
  sweepDeadDirs();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}${process.pid}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let swept = false;
function sweepDeadDirs(): void {
  if (swept) return;
  swept = true;
  for (const name of readdirSync(tmpdir())) {
    const prefix = dirPrefixes.find((p) => name.startsWith(p));
    if (prefix === undefined) continue;
    const pid = /^(\d+)-/.exec(name.slice(prefix.length))?.[1];
    const path = join(tmpdir(), name);
    try {
      if (pid !== undefined ? !alive(Number(pid)) : Date.now() - statSync(path).mtimeMs > 3600_000) rmSync(path, { recursive: true, force: true });
    } catch {
      // Gone meanwhile, or not ours to remove.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Build the busybox image's OCI layout with umoci, once per process (the
 * layout is in a temp directory of this process: removed when it exits,
 * or by the next process if a signal ended it).
 * Throws when umoci or /bin/busybox is missing; call `requireTool(...busyboxTools)` first.
 */
export function busyboxLayout(): BusyboxLayout {
  if (built !== undefined) return built;
  const dir = ownTempDir('strata-busybox-image-');
  const layout = join(dir, 'layout');
  const tag = 'latest';
  tool('umoci', ['init', '--layout', layout]);
  tool('umoci', ['new', '--image', `${layout}:base`]);
  const bundle = join(dir, 'bundle');
  tool('umoci', ['unpack', '--rootless', '--image', `${layout}:base`, bundle]);
  populate(join(bundle, 'rootfs'));
  tool('umoci', ['repack', '--image', `${layout}:base`, bundle]);
  rmSync(bundle, { recursive: true, force: true });
  tool('umoci', [
    'config',
    '--image', `${layout}:base`,
    '--tag', tag,
    '--os', 'linux',
    '--architecture', hostArch(),
    '--config.cmd', '/bin/sh',
    '--config.env', busyboxEnv[0]!,
    '--config.workingdir', '/',
  ]);
  tool('umoci', ['rm', '--image', `${layout}:base`]);
  built = { layout, tag, reference: `oci:${layout}:${tag}` };
  return built;
}

const extras = new Map<string, BusyboxLayout>();

/**
 * The busybox image plus one more layer holding `files` (path → bytes),
 * tagged `tag` in the same layout (built once per tag and process): e.g.
 * a WASI module beside busybox, so that one image runs on both the
 * `wasm` and the Linux backends.
 */
export function busyboxLayoutWith(tag: string, files: Readonly<Record<string, string | Uint8Array>>): BusyboxLayout {
  const known = extras.get(tag);
  if (known !== undefined) return known;
  const base = busyboxLayout();
  const bundle = ownTempDir('strata-busybox-extra-');
  try {
    rmSync(bundle, { recursive: true });
    tool('umoci', ['unpack', '--rootless', '--image', `${base.layout}:${base.tag}`, bundle]);
    for (const [path, content] of Object.entries(files)) {
      const at = join(bundle, 'rootfs', path);
      mkdirSync(dirname(at), { recursive: true });
      writeFileSync(at, content, { mode: 0o755 });
    }
    tool('umoci', ['repack', '--image', `${base.layout}:${tag}`, bundle]);
  } finally {
    rmSync(bundle, { recursive: true, force: true });
  }
  const layout = { layout: base.layout, tag, reference: `oci:${base.layout}:${tag}` };
  extras.set(tag, layout);
  return layout;
}

/** Fill `rootfs` with busybox, its applet links and a minimal /etc. */
function populate(rootfs: string): void {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'run', 'var']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync(busyboxPath, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of tool('busybox', ['--list-full']).split('\n').filter(Boolean)) {
    if (applet === 'bin/busybox') continue;
    const at = join(rootfs, applet);
    mkdirSync(dirname(at), { recursive: true });
    try {
      symlinkSync(relative(dirname(at), join(rootfs, 'bin/busybox')), at);
    } catch {
      // An applet listed twice.
    }
  }
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(rootfs, 'etc/motd'), busyboxMotd);
}

/** The busybox image in a store, and where it came from. */
export interface BusyboxImage {
  /** The reference it was pulled as: `HOST/strata/busybox:latest` with a registry, else `oci:LAYOUT:latest`. */
  readonly reference: string;
  readonly store: ImageStore;
  readonly record: ImageRecord;
  /** `BackendManifest.image` for it. */
  readonly image: { reference: string; manifestDigest: string; configDigest: string; diffIDs: string[] };
  readonly layout: BusyboxLayout;
  /** sha256 (hex) of the busybox binary in the image. */
  readonly busyboxSha256: string;
}

/**
 * The busybox image, pushed to `registry` (when given, as
 * `HOST/strata/busybox:latest`, with skopeo) and pulled into `store`
 * (default: a new store in a temp dir, removed at exit). Without a
 * registry it is pulled straight from its OCI layout. `layout` picks
 * another tag of the layout (see {@link busyboxLayoutWith}).
 *
 * @example
 * if (requireTool(...busyboxTools)) {
 *   const registry = await startRegistry();
 *   const { store, image } = await busyboxImage({ registry });
 *   // manifest: { class: 'runc', image, root: { mode: 'readonly' }, … }
 *   await registry.stop();
 * }
 */
export async function busyboxImage(options: { registry?: TestRegistry; store?: ImageStore; layout?: BusyboxLayout } = {}): Promise<BusyboxImage> {
  requireTool(...busyboxTools);
  const layout = options.layout ?? busyboxLayout();
  let store = options.store;
  if (store === undefined) {
    const dir = ownTempDir('strata-busybox-store-');
    store = await ImageStore.open(dir);
  }
  let reference = layout.reference;
  if (options.registry !== undefined) {
    reference = `${options.registry.host}/strata/busybox:${layout.tag}`;
    await pushImage(layout.layout, layout.tag, reference);
  }
  const record = await pull(reference, { store, insecure: true });
  return {
    reference: record.reference,
    store,
    record,
    image: { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((l) => l.diffID ?? l.digest) },
    layout,
    busyboxSha256: createHash('sha256').update(readFileSync(busyboxPath)).digest('hex'),
  };
}
