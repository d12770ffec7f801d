import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/index.js';
import { guestPath, text } from '../support/guests.js';

const work = mkdtempSync(join(tmpdir(), 'strata-sandbox-fs-run-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('sandbox.fs with a running guest', () => {
  it('files copied in are what the guest reads; what it writes comes out', async () => {
    const src = join(work, 'in');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'a.txt'), 'from the host\n');
    symlinkSync('/etc/passwd', join(src, 'passwd'));

    const sandbox = await Sandbox.create();
    await sandbox.fs.copyIn(src, '/in', { recursive: true });
    const cat = await sandbox.run(guestPath('fsbox'), { args: ['cat', '/in/sub/a.txt'] });
    expect([cat.exitCode, text(cat.stdout)]).toEqual([0, 'from the host\n']);

    await sandbox.fs.mkdir('/out');
    const write = await sandbox.run(guestPath('fsbox'), { args: ['write', '/out/result.txt', 'from the guest'] });
    expect(write.exitCode).toBe(0);
    expect(await sandbox.fs.readFile('/out/result.txt', 'utf8')).toBe('from the guest');
    await sandbox.fs.cp('/in/passwd', '/out/passwd');

    const out = join(work, 'out');
    await sandbox.fs.copyOut('/out', out, { recursive: true });
    expect(readFileSync(join(out, 'result.txt'), 'utf8')).toBe('from the guest');
    expect(readlinkSync(join(out, 'passwd'))).toBe('/etc/passwd');
  });
});
