/**
 * The time the VFS stamps on nodes, in nanoseconds since the epoch.
 *
 * Like Linux's file timestamps (`current_time()` reads the coarse clock),
 * this is deliberately coarse: it moves once per millisecond, so a hot
 * write path pays for one `Date.now()` and no BigInt allocation. Exact
 * times set by the guest (utimensat) are stored exactly.
 */
export function coarseNowNs(): bigint {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastNs = BigInt(ms) * 1_000_000n;
  }
  return lastNs;
}

// A cache of the clock, not state: every caller sees the same time.
let lastMs = 0;
let lastNs = 0n;
