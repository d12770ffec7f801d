import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, GuestError, Sandbox, StrataError, compileGuest, defaultMaxFds } from '../../src/index.js';
import { guestBytes, guestPath, name, section, text, wasmModule } from '../support/guests.js';

describe('Sandbox.run', () => {
  it('runs hello from a path, from bytes and from a compiled module', async () => {
    const sandbox = await Sandbox.create();
    const fromPath = await sandbox.run(guestPath('hello'), { args: ['path'] });
    const fromBytes = await sandbox.run(guestBytes('hello'), { args: ['bytes'] });
    const compiled = await compileGuest(guestBytes('hello'));
    const fromModule = await sandbox.run(compiled);
    expect([fromPath, fromBytes, fromModule].map((r) => [r.exitCode, text(r.stdout)])).toEqual([
      [0, 'hello, path\n'],
      [0, 'hello, bytes\n'],
      [0, 'hello, world\n'],
    ]);
  });

  it('streams output to sinks instead of collecting it', async () => {
    const sandbox = await Sandbox.create();
    const chunks: string[] = [];
    const result = await sandbox.run(guestPath('hello'), { stdout: (c) => chunks.push(text(c)) });
    expect(chunks.join('')).toBe('hello, world\n');
    expect(result.stdout.length).toBe(0);
  });

  it('shares the root between runs and with the host API', async () => {
    const sandbox = await Sandbox.create();
    sandbox.mkdir('/data/in', { recursive: true });
    sandbox.writeFile('/data/in/x.txt', 'seeded');
    expect(text(sandbox.readFile('/data/in/x.txt'))).toBe('seeded');
    expect(sandbox.usage.inodes).toBe(4);
  });

  it('refuses a workdir that does not exist or is a file', async () => {
    const sandbox = await Sandbox.create();
    sandbox.writeFile('/f', '');
    for (const workdir of ['/nope', '/f']) {
      await expect(sandbox.run(guestPath('hello'), { workdir })).rejects.toMatchObject({ code: ErrorCode.badPath });
    }
  });

  it('refuses unknown root modes and bad quotas with ERR_INVALID_OPTION', async () => {
    await expect(Sandbox.create({ root: 'overlay' as 'tmpfs' })).rejects.toMatchObject({ code: ErrorCode.invalidOption });
    await expect(Sandbox.create({ tmpfs: { maxBytes: -1 } })).rejects.toMatchObject({ code: ErrorCode.invalidOption });
  });

  it('documents the fd limit', () => {
    expect(defaultMaxFds).toBe(1024);
  });
});

describe('bad modules', () => {
  const cases: { name: string; bytes: Uint8Array; code: string; message: RegExp }[] = [
    { name: 'a text file', bytes: new TextEncoder().encode('#!/bin/sh\necho hi\n'), code: ErrorCode.notWasm, message: /not a WebAssembly module/ },
    { name: 'an empty file', bytes: new Uint8Array(0), code: ErrorCode.notWasm, message: /not a WebAssembly module/ },
    // Components run (src/component); an empty one exports no wasi:cli/run, so it is no command.
    { name: 'an empty component (version 0x0d)', bytes: Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]), code: ErrorCode.notWasiCommand, message: /wasi:cli\/run/ },
    { name: 'a truncated module', bytes: wasmModule([0x01, 0x10, 0x01]), code: ErrorCode.invalidWasm, message: /does not compile/ },
    {
      name: 'an unknown import module',
      bytes: wasmModule(section(1, [1, 0x60, 0, 0]), section(2, [1, ...name('env'), ...name('foo'), 0x00, 0])),
      code: ErrorCode.unknownImport,
      message: /env\.foo/,
    },
    {
      name: 'an unknown preview1 function',
      bytes: wasmModule(section(1, [1, 0x60, 0, 0]), section(2, [1, ...name('wasi_snapshot_preview1'), ...name('fd_frobnicate'), 0x00, 0])),
      code: ErrorCode.unknownImport,
      message: /wasi_snapshot_preview1\.fd_frobnicate/,
    },
    {
      name: 'an imported memory',
      bytes: wasmModule(section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 0x01])),
      code: ErrorCode.unknownImport,
      message: /memory 'env\.memory'/,
    },
    { name: 'a module with no _start', bytes: wasmModule(), code: ErrorCode.notWasiCommand, message: /_start/ },
    {
      name: 'initial memory over the limit',
      bytes: wasmModule(section(5, [1, 0x00, 0x80, 0x02])), // 256 pages = 16 MiB
      code: ErrorCode.invalidWasm,
      message: /needs 16777216 bytes/,
    },
  ];

  it.each(cases)('refuses $name with $code', async ({ bytes, code, message }) => {
    const sandbox = await Sandbox.create();
    const error = await sandbox.run(bytes, { memoryLimitBytes: 1 << 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code).toBe(code);
    expect((error as StrataError).message).toMatch(message);
  });

  it('names the file it could not read', async () => {
    await expect(compileGuest('/no/such/module.wasm')).rejects.toMatchObject({
      code: ErrorCode.hostFile,
      message: expect.stringContaining('/no/such/module.wasm'),
    });
  });

  it.skipIf(process.platform === 'win32')('reads a module from a FIFO without blocking the caller while it waits for a writer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-fifo-'));
    const fifo = join(dir, 'module.wasm');
    execFileSync('mkfifo', [fifo]);
    try {
      // Another process writes it later, so a blocking open fails this test rather than hanging it.
      const writer = spawn('sh', ['-c', 'sleep 0.5; cat "$0" > "$1"', guestPath('hello'), fifo], { stdio: 'ignore' });
      const written = once(writer, 'exit');
      const t0 = performance.now();
      const compiling = compileGuest(fifo);
      expect(performance.now() - t0).toBeLessThan(250);
      expect((await compiling).kind).toBe('command');
      expect((await written)[0]).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a memory limit under one page', async () => {
    await expect(compileGuest(guestBytes('hello'), { memoryLimitBytes: 100 })).rejects.toMatchObject({ code: ErrorCode.invalidOption });
  });

  it('exports GuestError as a StrataError', () => {
    expect(new GuestError('ERR_X', 'm', { stdout: new Uint8Array(), stderr: new Uint8Array() })).toBeInstanceOf(StrataError);
  });
});
