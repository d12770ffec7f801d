import type { OverlayChange } from '../vfs/index.js';

/** One change in a sandbox's root or overlay mount, like a line of `docker diff`. */
export interface SandboxChange {
  readonly path: string;
  readonly kind: 'added' | 'changed' | 'deleted';
  readonly type: 'directory' | 'file' | 'symlink' | 'character-device';
  /** The file's bytes now (added or changed regular files, when asked for). */
  readonly contents?: Uint8Array;
  /** A symlink's target now. */
  readonly target?: string;
}

/** A change as the API reports it, with contents when asked. */
export function describeChange(change: OverlayChange, contents: boolean): SandboxChange {
  const node = change.node;
  const base = { path: change.path, kind: change.kind, type: change.type } as const;
  if (node?.type === 'symlink') return { ...base, target: node.target };
  if (contents && node?.type === 'file') {
    const bytes = new Uint8Array(node.size);
    node.read(bytes, 0, bytes.length, 0);
    return { ...base, contents: bytes };
  }
  return base;
}
