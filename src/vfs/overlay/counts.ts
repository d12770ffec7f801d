import { LayerView } from '../layer-view.js';
import { firstEntryCookie, type DirNode } from '../node.js';
import { Tmpfs } from '../tmpfs.js';
import { isReservedName, opaqueMarker, whiteoutPrefix } from './lookup.js';

/**
 * A merged directory's entry and subdirectory counts: stat's size, and its
 * nlink less 2. Counting the merged listing costs what the lower directory
 * holds; over a lower whose counts are exact and fixed they are derived
 * from the lower's counts and the upper's own entries instead, so a fresh
 * overlay over a big directory (a fork's first `stat`) costs what its own
 * changes do.
 */
export interface DirCounts {
  readonly entries: number;
  readonly subdirs: number;
}

/**
 * True when the directory `lower`'s size and nlink are exact and never
 * change: a layer view's or a tmpfs's (a lower is never written), or a
 * sealed overlay's (`sealed` says so). A host directory's nlink is the
 * host filesystem's, which may not count subdirectories.
 */
export function hasExactCounts(lower: DirNode, sealed: boolean): boolean {
  return sealed || lower.fs instanceof LayerView || lower.fs instanceof Tmpfs;
}

/** The counts a plain directory reports: its size, and its nlink less `.` and its own name. */
export function plainCounts(dir: DirNode): DirCounts {
  return { entries: dir.size, subdirs: dir.stat().nlink - 2 };
}

/**
 * The counts of a directory whose upper is `upper` and which merges
 * `lower` (whose counts are `below`): each upper entry adds a name the
 * lower lacks, or turns a lower name into or out of a directory; each
 * whiteout with no upper entry of its name takes a lower name away.
 */
export function countsOver(upper: DirNode, lower: DirNode, below: DirCounts): DirCounts {
  let { entries, subdirs } = below;
  upper.readdir(firstEntryCookie, (e) => {
    if (e.name === opaqueMarker) return true;
    if (isReservedName(e.name)) {
      const name = e.name.slice(whiteoutPrefix.length);
      const hidden = name === '' || isReservedName(name) || upper.lookup(name) !== undefined ? undefined : lower.lookup(name);
      if (hidden !== undefined) {
        entries--;
        if (hidden.type === 'directory') subdirs--;
      }
      return true;
    }
    const shadowed = lower.lookup(e.name);
    const isDir = e.type === 'directory';
    if (shadowed === undefined) {
      entries++;
      if (isDir) subdirs++;
    } else if ((shadowed.type === 'directory') !== isDir) {
      subdirs += isDir ? 1 : -1;
    }
    return true;
  });
  return { entries, subdirs };
}
