/**
 * Issue 8, item 4: hard links were charged to no quota. With
 * `--tmpfs-inodes 16 --tmpfs-size 1M`, a guest made ~11M links with
 * 250-byte names while usage stayed at 2 inodes and 0 bytes, until the
 * host died of a V8 heap OOM at 4.5 GB. Now, as on Linux tmpfs, every
 * name past a file's first takes an inode, and every directory entry is
 * charged to the metadata budget (64 bytes + 2 per UTF-16 unit of its
 * name), so the flood ends in ENOSPC and the counters stay exact.
 */
import { describe, expect, it } from 'vitest';
import { defaultTmpfsLimits, entryCost } from '../../src/vfs/tmpfs.js';
import { WasiErrno } from '../../src/wasi/index.js';
import { directHost } from './direct-host.js';
import { expectExactUsage } from './recount.js';

function flood(h: ReturnType<typeof directHost>, limit: number): { made: number; errno: number } {
  const src = h.put(0, 'file');
  const nameAt = 1024;
  for (let i = 0; i < limit; i++) {
    const name = h.put(nameAt, `${i}-`.padEnd(250, 'x'));
    const errno = h.w['path_link']!(3, 0, ...src, 3, ...name);
    if (errno !== 0) return { made: i, errno };
  }
  return { made: limit, errno: 0 };
}

describe('a hard-link flood', () => {
  it('with 16 inodes and 1 MiB, links stop at the inode quota', () => {
    const h = directHost({ limits: { maxInodes: 16, maxBytes: 1 << 20 } });
    h.ns.open(h.ns.root, 'file', { follow: false, create: true });
    const { made, errno } = flood(h, 100_000);
    expect(errno).toBe(WasiErrno.ENOSPC);
    // The root and the file take 2; each link one of the 14 left.
    expect(made).toBe(14);
    expect(h.fs.usage.inodes).toBe(16);
    expectExactUsage(h.fs);
  });

  it('with inodes to spare, the names stop at the metadata budget', () => {
    const budget = 1 << 20;
    const h = directHost({ limits: { maxMetadataBytes: budget } });
    h.ns.open(h.ns.root, 'file', { follow: false, create: true });
    const before = h.fs.metadataBytes;
    const { made, errno } = flood(h, 100_000);
    expect(errno).toBe(WasiErrno.ENOSPC);
    expect(made).toBe(Math.floor((budget - before) / entryCost('x'.repeat(250))));
    expect(h.fs.metadataBytes).toBeLessThanOrEqual(budget);
    expectExactUsage(h.fs);
  });

  it('unlinking the links gives every inode and byte of metadata back', () => {
    const h = directHost({ limits: { maxInodes: 64 } });
    h.ns.open(h.ns.root, 'file', { follow: false, create: true });
    const start = { usage: h.fs.usage, metadata: h.fs.metadataBytes };
    const { made } = flood(h, 10);
    expect(made).toBe(10);
    expect(h.fs.usage.inodes).toBe(start.usage.inodes + 10);
    for (let i = 0; i < 10; i++) h.ns.unlink(h.ns.root, `${i}-`.padEnd(250, 'x'));
    expect({ usage: h.fs.usage, metadata: h.fs.metadataBytes }).toEqual(start);
    expectExactUsage(h.fs);
  });

  it('the default metadata budget is documented and finite', () => {
    expect(defaultTmpfsLimits.maxMetadataBytes).toBe(256 << 20);
  });
});
