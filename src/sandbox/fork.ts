import { ErrorCode, StrataError } from '../errors.js';
import { Overlay, type DirNode } from '../vfs/index.js';
import { maxStackDepth } from '../vfs/overlay/index.js';
import { mountAll, remount, RootMode, type SandboxRoot } from './root.js';

/** The roots a fork leaves: the parent's (the same object when it did not change) and the child's. */
export interface ForkedRoots {
  readonly parent: SandboxRoot;
  readonly child: SandboxRoot;
}

/**
 * Fork a sandbox's root in O(1): nothing of the image, the upper or a
 * tmpfs root is walked or copied, whatever their sizes.
 *
 * - `overlay` root: the current overlay is sealed ({@link Overlay.seal})
 *   and both sides get a fresh upper over it, so neither sees the other's
 *   later writes. An overlay with no change since it was made (a parent
 *   forked again without writing) is not sealed: the child stacks on the
 *   same sealed state and the parent keeps its overlay, so forking a
 *   golden sandbox any number of times keeps every stack 2 deep.
 * - `tmpfs` root: the tmpfs is frozen ({@link Tmpfs.freeze}) and becomes
 *   the lower of a fresh overlay on each side; from then on the parent's
 *   root forks as an overlay does.
 * - `readonly` root: the child shares the same view.
 *
 * Each fresh upper gets the root's quotas (`tmpfs` of
 * {@link SandboxOptions}), counted from the fork. The parent's namespace
 * is rebuilt over its new root with the very same mount filesystems, so
 * its bind, volume, identity, tmpfs and overlay mounts keep their
 * contents. The child's mounts are built afresh from the same specs:
 * bind and volume mounts share the host directories, identity files are
 * injected anew (never part of an upper), tmpfs mounts start empty and
 * overlay mounts start with a fresh upper over their host directory.
 *
 * Errors: ERR_INVALID_OPTION (a root that is a host directory: a bind at
 * `/`, or an overlay whose upper is a host directory, `upper: { dir }`).
 */
export function forkRoot(root: SandboxRoot): ForkedRoots {
  const frozen = freezeRoot(root);
  if (root.mode === RootMode.readonly && root.overlay === undefined) {
    return { parent: root, child: mountAll(root.options, { root: frozen.base }) };
  }
  const overlay = freshUpper(root, frozen.base);
  return { parent: frozen.root, child: mountAll(root.options, { root: overlay.root, overlay }) };
}

/** What {@link freezeRoot} leaves. */
export interface FrozenRoot {
  /** The root the sandbox goes on with (the same object when nothing had to change). */
  readonly root: SandboxRoot;
  /** The frozen state: read-only from now on, the lower of the root's overlay and of any fork. */
  readonly base: DirNode;
  /** The overlay this call sealed, if it sealed one: its upper holds the changes since the state below it. */
  readonly sealed?: Overlay;
}

/**
 * Freeze a sandbox root's current state in O(1) and go on over it: the
 * half of a fork the parent sees, and the step a snapshot commit starts
 * with (the sealed overlay's upper is the layer to write out, off the
 * guest's path). A dirty overlay is sealed and the root gets a fresh upper
 * over it (a new namespace, the same mounts); a clean one is left as it
 * is, its lower being the state; a tmpfs root is frozen and gets an
 * overlay over it; a readonly root is its own frozen state.
 *
 * Errors: ERR_INVALID_OPTION (a root that is a host directory: a bind at
 * `/`, or `upper: { dir }`), ERR_FORK_TOO_DEEP (sealing would stack more
 * than {@link maxStackDepth} overlays); either way nothing has changed.
 */
export function freezeRoot(root: SandboxRoot): FrozenRoot {
  if (root.hostRoot) throw new StrataError(ErrorCode.invalidOption, 'cannot fork a sandbox whose root is a host directory (a bind at /)');
  if (root.options.upperDir !== undefined) {
    throw new StrataError(ErrorCode.invalidOption, `cannot fork a sandbox whose upper is a host directory ('${root.options.upperDir}'); fork one with an in-memory upper`);
  }
  const current = root.overlay;
  if (current === undefined && root.tmpfs === undefined) return { root, base: root.namespace.root };
  if (current !== undefined && !current.dirty) return { root, base: current.lowerRoot };
  // Checked before anything is sealed, so a refused fork changes nothing.
  if (current !== undefined && current.depth >= maxStackDepth) {
    throw new StrataError(ErrorCode.forkTooDeep, `cannot fork: the root already stacks ${current.depth} overlays, the most a root may have is ${maxStackDepth} (fork an earlier sandbox of this chain)`);
  }
  let base: DirNode;
  if (current !== undefined) {
    current.seal();
    base = current.root;
  } else {
    root.tmpfs!.freeze();
    base = root.tmpfs!.root;
  }
  const overlay = freshUpper(root, base);
  return { root: remount(root, { root: overlay.root, overlay }), base, ...(current !== undefined && { sealed: current }) };
}

/** A fresh overlay over `base` with the root's quotas. */
function freshUpper(root: SandboxRoot, base: DirNode): Overlay {
  const limits = root.options.limits;
  return new Overlay({ lower: base, dev: 1n, ...(limits !== undefined && { limits }) });
}
