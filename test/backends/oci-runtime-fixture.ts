/**
 * What the oci-runtime tests share: one registry serving the busybox image
 * (started once per test file), host configs pinning the runtimes found on
 * PATH, and manifests over the image.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { hostArch, OciRuntimeBackend, type BackendManifest, type ClassConfig, type ManifestMount, type ManifestRootMode } from '../../src/backends/index.js';
import { probeAsset } from '../../src/backends/host-config.js';
import { busyboxImage, busyboxMotd, busyboxTools, type BusyboxImage } from '../support/busybox-image.js';
import { requireTool } from '../support/host-tool.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

export type RuntimeClass = 'runc' | 'crun' | 'runsc';
export const runtimeClasses: readonly RuntimeClass[] = ['runc', 'crun', 'runsc'];

/** Whether the host can run these tests: the tools, and root (the backend mounts the sandbox root). */
export function ociRuntimeReady(): boolean {
  const tools = requireTool(...busyboxTools, ...runtimeClasses, 'unshare');
  if (tools && process.getuid?.() !== 0) {
    if (process.env['CI'] === 'true') throw new Error('the oci-runtime tests run as root (CI runs as root)');
    console.warn('skipping: the oci-runtime backend tests need root');
    return false;
  }
  return tools;
}

let shared: Promise<{ registry: TestRegistry; image: BusyboxImage }> | undefined;

/** The registry and the busybox image pulled from it, once per file. */
export function busybox(): Promise<{ registry: TestRegistry; image: BusyboxImage }> {
  shared ??= (async () => {
    const registry = await startRegistry();
    return { registry, image: await busyboxImage({ registry }) };
  })();
  return shared;
}

/** Stop the registry, if started. */
export async function stopBusybox(): Promise<void> {
  if (shared !== undefined) await (await shared).registry.stop();
  shared = undefined;
}

/** The class config pinning the runtime on PATH now (and `extra` settings). */
export async function runtimeConfig(cls: RuntimeClass, extra: Record<string, unknown> = {}): Promise<ClassConfig> {
  const path = spawnSync('sh', ['-c', `command -v ${cls}`], { encoding: 'utf8' }).stdout.trim();
  return { assets: [await probeAsset(cls, path)], config: extra };
}

/** The same config with a wrong sha256 for the runtime. */
export function tamperedConfig(config: ClassConfig): ClassConfig {
  const [asset] = config.assets;
  return { ...config, assets: [{ ...asset!, arch: { [hostArch()]: { ...asset!.arch[hostArch()]!, sha256: 'a'.repeat(64) } } }] };
}

/** A manifest over the busybox image. */
export function busyboxManifest(cls: BackendManifest['class'], image: BusyboxImage, mode: ManifestRootMode, mounts: readonly ManifestMount[] = [], args: string[] = ['/bin/cat', '/etc/motd']): BackendManifest {
  return { class: cls, image: image.image, root: { mode, limits: { maxBytes: 32 << 20, maxInodes: 4096 } }, mounts, process: { args, env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] };
}

export { busyboxMotd, OciRuntimeBackend };

/** This process's bundles (`strata-oci-PID-*` in the temp dir) that exist now. */
export function bundleDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith(`strata-oci-${process.pid}-`));
}

/** argv writing `text` to `path`, and printing `path`. */
export const write = (path: string, text: string) => ['/bin/sh', '-c', 'printf %s "$1" > "$2"', 'sh', text, path];
export const cat = (path: string) => ['/bin/cat', path];
