import { describe, expect, it } from 'vitest';
import { Tmpfs } from '../../src/vfs/index.js';
import { FileDescriptor } from '../../src/wasi/descriptor.js';
import { FdTable } from '../../src/wasi/fd-table.js';

/**
 * Issue 8, item 7, at the fd table: closing an fd is two steps (release the
 * node, free the slot). Cut short between them (a timeout lands there), the
 * fd still names the closed description; closing it again must not release
 * the node a second time, or an unlinked file's bytes are refunded twice and
 * the quota goes negative.
 */
describe('fd close cut short', () => {
  function unlinkedOpenFile() {
    const fs = new Tmpfs({ dev: 1n });
    const file = fs.root.createFile('f', 0o644);
    file.write(new Uint8Array(1000), 0, 1000, 0);
    const d = new FileDescriptor(file, 0, 0, 0);
    fs.root.unlink('f');
    return { fs, d };
  }

  it('a description releases its node once, however often it is closed', () => {
    const { fs, d } = unlinkedOpenFile();
    const before = fs.usage;
    expect(before.bytes).toBeGreaterThanOrEqual(1000);
    d.close();
    const after = fs.usage;
    expect(before.bytes - after.bytes).toBe(1000);
    d.close();
    expect(fs.usage).toEqual(after);
  });

  it('the table releases before it frees the slot, so a retry after a cut closes nothing twice', () => {
    const { fs, d } = unlinkedOpenFile();
    const table = new FdTable(8);
    const fd = table.insert(d);
    d.close(); // the first step of a close that was cut short
    const after = fs.usage;
    table.close(fd); // the guest (or process exit) closes it again
    expect(fs.usage).toEqual(after);
    expect(() => table.get(fd)).toThrow();
  });
});
