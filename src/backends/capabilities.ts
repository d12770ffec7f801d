import { ErrorCode, StrataError } from '../errors.js';
import { hostArch } from './assets.js';
import type { BackendCapabilities } from './backend.js';
import type { BackendManifest, SandboxClass } from './manifest.js';

/**
 * Check that a backend can run a manifest here, before it verifies assets
 * or builds anything: the class, this platform and architecture, the root
 * mode and every mount kind.
 *
 * Errors, in order: ERR_INVALID_OPTION naming the first that does not fit
 * (another class; this platform or architecture; the root mode; a mount,
 * by kind and target).
 */
export function checkCapabilities(cls: SandboxClass, capabilities: BackendCapabilities, manifest: BackendManifest): void {
  if (manifest.class !== cls) throw new StrataError(ErrorCode.invalidOption, `the ${cls} backend cannot prepare a '${manifest.class}' manifest`);
  if (!capabilities.platforms.includes(process.platform)) throw new StrataError(ErrorCode.invalidOption, `the ${cls} backend does not run on ${process.platform} (only ${capabilities.platforms.join(', ')})`);
  const arch = hostArch();
  if (!capabilities.architectures.includes('*') && !capabilities.architectures.includes(arch)) throw new StrataError(ErrorCode.invalidOption, `the ${cls} backend does not run on ${arch} (only ${capabilities.architectures.join(', ')})`);
  if (!capabilities.rootModes.includes(manifest.root.mode)) throw new StrataError(ErrorCode.invalidOption, `the ${cls} backend has no '${manifest.root.mode}' root (only ${capabilities.rootModes.join(', ')})`);
  for (const mount of manifest.mounts) {
    if (!capabilities.mountKinds.includes(mount.type)) throw new StrataError(ErrorCode.invalidOption, `the ${cls} backend has no ${mount.type} mounts (at '${mount.target}'; it has ${capabilities.mountKinds.join(', ')})`);
  }
}
