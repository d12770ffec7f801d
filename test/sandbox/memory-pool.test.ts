/**
 * Guest memories handed from one finished process to the next
 * (src/sandbox/memory-pool.ts): the module variant that imports its
 * memory, and that no process ever sees what another left in one.
 */
import { describe, expect, it } from 'vitest';
import { compileGuest, Sandbox, SandboxPool } from '../../src/index.js';
import { maxPooledPages, pooledMemories } from '../../src/sandbox/memory-pool.js';
import { importableMemory, importedMemory, importingMemory, limitSections } from '../../src/sandbox/module-sections.js';
import { guestBytes, name, section, text, wasmModule } from '../support/guests.js';

/** A module importing one preview1 function and defining a memory of these limits (flags, min[, max]). */
function withMemory(limits: number[]): Uint8Array {
  return wasmModule(section(1, [1, 0x60, 0, 0]), section(2, [1, ...name('wasi_snapshot_preview1'), ...name('sched_yield'), 0x00, 0]), section(5, [1, ...limits]));
}

describe('importableMemory and importingMemory', () => {
  it("imports hello's memory instead of defining it, and changes nothing else", () => {
    const limited = limitSections(guestBytes('hello'), 16384, 1 << 20, 'hello');
    const type = importableMemory(limited, maxPooledPages)!;
    expect(type).toEqual({ pages: 2, maxPages: 16384 });
    const original = new WebAssembly.Module(limited);
    const rewritten = new WebAssembly.Module(importingMemory(limited, type));
    expect(WebAssembly.Module.imports(rewritten)).toEqual([
      ...WebAssembly.Module.imports(original),
      { module: importedMemory.module, name: importedMemory.name, kind: 'memory' },
    ]);
    expect(WebAssembly.Module.exports(rewritten)).toEqual(WebAssembly.Module.exports(original));
  });

  it('keeps the memory type: the variant links only to a memory of the same size and maximum', () => {
    const bytes = withMemory([1, 1, 2]);
    const module = new WebAssembly.Module(importingMemory(bytes, importableMemory(bytes, maxPooledPages)!));
    const link = (memory: WebAssembly.Memory) =>
      new WebAssembly.Instance(module, { wasi_snapshot_preview1: { sched_yield: () => 0 }, [importedMemory.module]: { [importedMemory.name]: memory } });
    expect(link(new WebAssembly.Memory({ initial: 1, maximum: 2 })).exports).toEqual({});
    expect(() => link(new WebAssembly.Memory({ initial: 1, maximum: 3 }))).toThrow(WebAssembly.LinkError);
    expect(() => link(new WebAssembly.Memory({ initial: 1 }))).toThrow(WebAssembly.LinkError);
  });

  const left: [string, Uint8Array][] = [
    ['a memory larger at start than is pooled', withMemory([1, maxPooledPages + 1, maxPooledPages + 2])],
    ['a memory without a maximum', withMemory([0, 1])],
    ['a shared memory', withMemory([3, 1, 1])],
    ['a 64-bit memory', withMemory([5, 1, 1])],
    ['a module without a memory', wasmModule(section(1, [1, 0x60, 0, 0]), section(2, [1, ...name('wasi_snapshot_preview1'), ...name('sched_yield'), 0x00, 0]))],
    ['a module without imports', wasmModule(section(5, [1, 1, 1, 1]))],
    ['a truncated module', withMemory([1, 1, 1]).subarray(0, 30)],
  ];
  it.each(left)('leaves %s alone', (_what, bytes) => {
    expect(importableMemory(bytes, maxPooledPages)).toBeUndefined();
  });
});

describe('a command in a memory another process left', () => {
  async function run(guest: Awaited<ReturnType<typeof compileGuest>>, args: string[] = [], extra = {}): Promise<string> {
    const sandbox = await Sandbox.create();
    try {
      const result = await sandbox.run(guest, { args, ...extra });
      expect(result.exitCode).toBe(0);
      return text(result.stdout);
    } finally {
      await sandbox.close();
    }
  }

  it('sees it zeroed, after a clean exit and after a trap', async () => {
    const guest = await compileGuest(guestBytes('mem-reuse'));
    expect(guest.pooled).toBeDefined();
    const first = await run(guest);
    expect(first).toMatch(/^dirty 0, pages \d+\n$/);
    const kept = pooledMemories();
    expect(kept).toBeGreaterThan(0);
    // Each run takes the memory the one before left, and gives it back.
    expect(await run(guest)).toBe(first);
    expect(pooledMemories()).toBe(kept);
    const sandbox = await Sandbox.create();
    await expect(sandbox.run(guest, { args: ['trap'] })).rejects.toMatchObject({ code: 'ERR_GUEST_TRAP' });
    expect(pooledMemories()).toBe(kept);
    expect(await run(guest)).toBe(first);
  });

  it('keeps no memory that grew', async () => {
    const guest = await compileGuest(guestBytes('mem-reuse'));
    const first = await run(guest);
    const kept = pooledMemories();
    expect(await run(guest, ['grow'])).toMatch(/^dirty 0, pages \d+\ngrown to \d+ pages\n$/);
    expect(pooledMemories()).toBe(kept - 1);
    expect(await run(guest)).toBe(first);
    expect(pooledMemories()).toBe(kept);
  });

  it('is never used with caller-provided imports', async () => {
    const guest = await compileGuest(guestBytes('mem-reuse'));
    await run(guest);
    const kept = pooledMemories();
    expect(await run(guest, [], { imports: {} })).toMatch(/^dirty 0, /);
    expect(pooledMemories()).toBe(kept);
  });

  it('is not made for a reactor or a module compiled with extra imports', async () => {
    expect((await compileGuest(guestBytes('hello'), { imports: { env: ['f'] } })).pooled).toBeUndefined();
  });
});

describe('a pool worker', () => {
  it('runs a command in a memory its last process left, zeroed, from bytes or a compiled module', async () => {
    const pool = new SandboxPool({ size: 1 });
    try {
      const sandbox = await pool.create();
      for (const guest of [guestBytes('mem-reuse'), await compileGuest(guestBytes('mem-reuse'))]) {
        const outputs: string[] = [];
        for (const args of [[], [], ['trap'], ['grow'], []]) {
          if (args[0] === 'trap') {
            await expect(sandbox.run(guest, { args })).rejects.toMatchObject({ code: 'ERR_GUEST_TRAP' });
            continue;
          }
          const result = await sandbox.run(guest, { args });
          expect(result.exitCode).toBe(0);
          outputs.push(text(result.stdout));
        }
        expect(outputs[0]).toMatch(/^dirty 0, pages \d+\n$/);
        expect(outputs[1]).toBe(outputs[0]);
        expect(outputs[2]).toMatch(/^dirty 0, pages \d+\ngrown to \d+ pages\n$/);
        expect(outputs[3]).toBe(outputs[0]);
      }
    } finally {
      await pool.close();
    }
  });
});
