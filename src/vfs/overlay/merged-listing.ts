import { firstEntryCookie, type FileType } from '../node.js';
import type { OverlayDir } from './directory.js';
import { isReservedName, whiteoutName } from './lookup.js';

/**
 * Readdir cookies of entries listed from the upper start here; below it
 * are the lower directory's own cookies (stable: the lower never changes).
 * A lower's cookies must stay under 2^30, and the upper's under 2^30 - 2^16,
 * so every cookie stays below the namespace's synthetic mount names and
 * below 2^31: wasi-libc's `telldir` returns a 32-bit `long`, and a larger
 * cookie breaks `seekdir` in a guest.
 */
export const upperCookieBase = 2 ** 30;

/**
 * A merged directory's listing after `cookie`, as overlayfs shows it:
 * first the lower's entries in the lower's order and with the lower's
 * cookies (skipping whiteouts, showing the upper node for a name the upper
 * replaced), then the upper's own entries with the upper's cookies offset
 * by {@link upperCookieBase}. Names starting with `.wh.` are never shown,
 * and a removed directory lists nothing. Both kinds of cookie stay valid
 * while the directory changes. `take` returns false to stop.
 */
export function forEachMergedEntry(dir: OverlayDir, cookie: number, take: (name: string, ino: bigint, type: FileType, next: number) => boolean): void {
  if (dir.removed) return;
  const { upper, lower } = dir;
  if (lower !== undefined && cookie < upperCookieBase) {
    let stopped = false;
    lower.readdir(cookie, (e) => {
      if (isReservedName(e.name)) return true;
      let { ino, type } = e;
      const u = upper?.lookup(e.name);
      if (u !== undefined) {
        const shown = dir.fs.nodeFor(dir, e.name, { kind: 'upper', upper: u, lower: lower.lookup(e.name) });
        if (shown === undefined) return true;
        ino = shown.ino;
        type = shown.type;
      } else if (upper?.lookup(whiteoutName(e.name)) !== undefined) {
        return true;
      }
      stopped = !take(e.name, ino, type, e.next);
      return !stopped;
    });
    if (stopped) return;
  }
  if (upper === undefined) return;
  upper.readdir(cookie < upperCookieBase ? firstEntryCookie : cookie - upperCookieBase, (e) => {
    if (isReservedName(e.name) || lower?.lookup(e.name) !== undefined) return true;
    const shown = dir.lookup(e.name);
    if (shown === undefined) return true;
    return take(e.name, shown.ino, shown.type, e.next + upperCookieBase);
  });
}
