import type { DirNode, Node } from '../node.js';

/**
 * What one name of an overlay directory resolves to, as gVisor's overlay
 * names it: the four states of a lookup.
 *
 * The upper is an OCI changeset on disk (image-spec layer.md): a deleted
 * lower entry is an empty regular file `.wh.NAME` beside it, and a
 * directory whose lower contents are all hidden holds `.wh..wh..opq`.
 * An upper entry wins over a whiteout of the same name (in one layer, a
 * whiteout only applies to the layers below).
 */
export type LookupState =
  /** Nothing by that name (or a reserved `.wh.` name, which is never shown). */
  | { readonly kind: 'none' }
  /** The upper hides the lower entry (if any) named `lower`. */
  | { readonly kind: 'whiteout'; readonly lower: Node | undefined }
  /** An upper entry; `lower` is the lower entry it shadows at the same path, when the directory merges one. */
  | { readonly kind: 'upper'; readonly upper: Node; readonly lower: Node | undefined }
  /** Only the lower has it. */
  | { readonly kind: 'lower'; readonly lower: Node };

/** The prefix of every whiteout name, and of the names a guest may not create. */
export const whiteoutPrefix = '.wh.';

/** The marker of an opaque directory: the lower directory at its path is hidden. */
export const opaqueMarker = '.wh..wh..opq';

const none: LookupState = { kind: 'none' };

/** True for names the overlay reserves for its own bookkeeping in the upper (`.wh.*`). */
export function isReservedName(name: string): boolean {
  return name.startsWith(whiteoutPrefix);
}

/** The whiteout entry that hides `name`. */
export function whiteoutName(name: string): string {
  return whiteoutPrefix + name;
}

/** True when the upper directory `upper` is marked opaque. */
export function isOpaque(upper: DirNode): boolean {
  return upper.lookup(opaqueMarker) !== undefined;
}

/**
 * The state of `name` in a directory with upper `upper` (if copied up) that
 * merges the lower directory `lower` (undefined when opaque or upper-only).
 */
export function lookupState(upper: DirNode | undefined, lower: DirNode | undefined, name: string): LookupState {
  if (isReservedName(name)) return none;
  if (upper !== undefined) {
    const u = upper.lookup(name);
    if (u !== undefined) return { kind: 'upper', upper: u, lower: lower?.lookup(name) };
    if (upper.lookup(whiteoutName(name)) !== undefined) return { kind: 'whiteout', lower: lower?.lookup(name) };
  }
  const l = lower?.lookup(name);
  return l === undefined ? none : { kind: 'lower', lower: l };
}
