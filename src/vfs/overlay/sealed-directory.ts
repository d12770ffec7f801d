import type { DirEntry, FileType, Node, Stat } from '../node.js';
import { firstEntryCookie } from '../node.js';

/** Misses a sealed directory remembers (each a name a guest chose); past it, a miss is looked up again. */
export const maxSealedMisses = 4096;

/**
 * What a directory of a sealed overlay keeps once computed: it never
 * changes again, and overlays stacked on it ask it the same questions
 * over and over, so a path resolves as fast 1,000 overlays deep as 2 deep
 * after a first lookup per layer.
 *
 * - its stat (whose size and nlink would otherwise be counted);
 * - lookups by name, hits always and misses up to {@link maxSealedMisses}
 *   (a guest probing names cannot grow it without bound);
 * - its merged listing, whose positions are its readdir cookies: all
 *   below 2^30, as an overlay needs its lower's to be.
 */
export class SealedDirCache {
  stat: Stat | undefined;
  #lookups = new Map<string, Node | null>();
  #misses = 0;
  #listing: Array<{ name: string; ino: bigint; type: FileType }> | undefined;

  /** The node at `name`, from `find` the first time. */
  lookup(name: string, find: () => Node | undefined): Node | undefined {
    const known = this.#lookups.get(name);
    if (known !== undefined) return known ?? undefined;
    const node = find();
    if (node !== undefined) this.#lookups.set(name, node);
    else if (this.#misses++ < maxSealedMisses) this.#lookups.set(name, null);
    return node;
  }

  /**
   * Entries after `cookie` (a position in the listing), the listing taken
   * from `list` the first time.
   */
  readdir(cookie: number, take: (entry: DirEntry) => boolean, list: (add: (name: string, ino: bigint, type: FileType) => boolean) => void): void {
    if (this.#listing === undefined) {
      const listing: Array<{ name: string; ino: bigint; type: FileType }> = [];
      list((name, ino, type) => (listing.push({ name, ino, type }), true));
      this.#listing = listing;
    }
    const listing = this.#listing;
    for (let i = Math.max(0, cookie - firstEntryCookie); i < listing.length; i++) {
      if (!take({ ...listing[i]!, next: firstEntryCookie + i + 1 })) return;
    }
  }
}
