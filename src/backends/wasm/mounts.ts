import { ErrorCode, StrataError } from '../../errors.js';
import type { IdentityMount, MountSpec } from '../../sandbox/index.js';
import type { PrepareOptions } from '../backend.js';
import type { ManifestMount } from '../manifest.js';

/**
 * A manifest's mounts as `Sandbox.create` takes them, with the host's
 * inputs: bind and overlay sources from `options.binds` (over the
 * manifest's `source`), identity files from `options.identity`, injected
 * afresh (an identity mount in options that the manifest lacks is added).
 *
 * Errors: ERR_INVALID_OPTION naming a bind or overlay mount without a host
 * directory, a volume without a name, or an identity mount without files.
 */
export function sandboxMounts(mounts: readonly ManifestMount[], options: PrepareOptions): MountSpec[] {
  const identity = new Map<string, IdentityMount>((options.identity ?? []).map((m) => [m.target, m]));
  const specs: MountSpec[] = mounts.map((m): MountSpec => {
    const { target } = m;
    switch (m.type) {
      case 'tmpfs':
        return { type: 'tmpfs', target, ...(m.size !== undefined && { size: m.size }), ...(m.inodes !== undefined && { inodes: m.inodes }) };
      case 'bind':
      case 'overlay': {
        const source = options.binds?.[target] ?? m.source;
        if (source === undefined) throw new StrataError(ErrorCode.invalidOption, `${m.type} mount at '${target}' records no host directory: give it in options.binds`);
        return m.type === 'bind' ? { type: 'bind', source, target, readonly: m.readonly === true } : { type: 'overlay', source, target, ...(m.size !== undefined && { size: m.size }), ...(m.inodes !== undefined && { inodes: m.inodes }) };
      }
      case 'volume':
        if (m.name === undefined) throw new StrataError(ErrorCode.invalidOption, `volume mount at '${target}' has no name`);
        return { type: 'volume', name: m.name, target, readonly: m.readonly === true };
      case 'identity': {
        const given = identity.get(target);
        if (given === undefined) throw new StrataError(ErrorCode.invalidOption, `identity mount at '${target}' needs its files in options.identity (they are never in a snapshot)`);
        identity.delete(target);
        return given;
      }
    }
  });
  return [...specs, ...identity.values()];
}
