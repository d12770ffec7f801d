import { ErrorCode, StrataError } from '../errors.js';
import { fileSha256, hostArch } from './assets.js';
import type { Backend } from './backend.js';
import { SandboxClass, type BackendAsset } from './manifest.js';
import { OciRuntimeBackend } from './oci-runtime/oci-runtime-backend.js';
import { WasmBackend } from './wasm/wasm-backend.js';
import { QemuBackend } from './microvm/qemu-backend.js';
import { FirecrackerBackend } from './microvm/firecracker-backend.js';

/** One sandbox class as a host enables it: the binaries it runs, pinned, and its config. */
export interface ClassConfig {
  /** The class's assets, pinned by sha256 per architecture; verified before every use. */
  readonly assets: readonly BackendAsset[];
  /** Per-implementation settings, recorded in the manifest's `backend.config`. */
  readonly config?: Readonly<Record<string, unknown>>;
}

/**
 * What the host (or a pool's operator) allows: per sandbox class, the
 * binaries and their sha256. It never comes from the workload's request
 * or from a manifest; a manifest's recorded assets are only compared
 * against it.
 */
export interface HostConfig {
  readonly classes: Readonly<Partial<Record<SandboxClass, ClassConfig>>>;
}

/** How each built class's backend is made from the host's config for it. */
const factories: Readonly<Partial<Record<SandboxClass, (config: ClassConfig) => Backend>>> = {
  wasm: (config) => new WasmBackend(config),
  runsc: (config) => new OciRuntimeBackend('runsc', config),
  runc: (config) => new OciRuntimeBackend('runc', config),
  crun: (config) => new OciRuntimeBackend('crun', config),
  qemu: (config) => new QemuBackend(config),
  firecracker: (config) => new FirecrackerBackend(config),
};

/**
 * The backend for a sandbox class, configured by the host.
 *
 * Errors, in order: ERR_INVALID_OPTION (not a sandbox class);
 * ERR_BACKEND_UNAVAILABLE (a class the host config does not enable).
 * Assets are not hashed here but before every use (prepare, start).
 */
export function selectBackend(sandboxClass: string, host: HostConfig): Backend {
  if (!(Object.values(SandboxClass) as string[]).includes(sandboxClass)) {
    throw new StrataError(ErrorCode.invalidOption, `unknown sandbox class '${sandboxClass}' (one of ${Object.values(SandboxClass).join(', ')})`);
  }
  const cls = sandboxClass as SandboxClass;
  const make = factories[cls];
  if (make === undefined) throw new StrataError(ErrorCode.backendUnavailable, `sandbox class '${cls}' has no backend in this build`);
  const config = host.classes[cls];
  if (config === undefined) throw new StrataError(ErrorCode.backendUnavailable, `sandbox class '${cls}' is not enabled in the host config (classes: ${Object.keys(host.classes).join(', ') || 'none'})`);
  return make(config);
}

/**
 * The asset of the `wasm` class: the JS runtime running this process
 * (`node`, `process.version`, `process.execPath`), hashed now. Pinning it
 * from the running process trusts the binary that is already running
 * strata; an operator who wants a fixed sha256 writes it in the host
 * config instead.
 *
 * Errors: ERR_ASSET_MISSING (the binary cannot be read).
 */
export async function nodeAsset(): Promise<BackendAsset> {
  return { name: 'node', version: process.version, arch: { [hostArch()]: { path: process.execPath, sha256: await fileSha256(process.execPath) } } };
}

/** A host config enabling the `wasm` class only, with {@link nodeAsset}. */
export async function defaultHostConfig(): Promise<HostConfig> {
  return { classes: { wasm: { assets: [await nodeAsset()] } } };
}
