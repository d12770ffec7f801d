/**
 * Guest memories kept from one process of a module for the next process
 * of a module with the same memory type, in the caller's thread.
 *
 * A fresh linear memory costs a process more than all of strata's own
 * setup: V8 reserves its address space, the kernel faults in each page the
 * guest first touches, and every new memory counts against V8's external
 * memory, where it collects garbage (docs/benchmarks.md, P1). A small
 * command therefore runs in a memory a finished process left, zeroed
 * first, through a variant of its module that imports its memory
 * ({@link importingMemory}): the guest sees what a fresh instance
 * would, a zeroed memory of its declared size and maximum with its data
 * segments written by instantiation.
 *
 * Only a memory still at its first size is kept (a memory cannot shrink),
 * and only once its process is over and nothing can call into its
 * instance again: `runCommand` gives it back after `_start` returned or
 * threw (a pool worker likewise). Runs that pass the guest caller-provided
 * imports never share one.
 */
import { IdlePool } from '../vfs/index.js';
import { importableMemory, importedMemory, importingMemory, type MemoryType } from './module-sections.js';

const wasmPage = 65536;

/**
 * Memories of at most 8 pages (512 KiB) at start are pooled: zeroing costs
 * ~1.5 µs a page here, less than a fresh memory with a few pages touched
 * up to 8 pages, more at 16 (docs/decisions.md).
 */
export const maxPooledPages = 8;

/** At most 16 memories are kept per thread (≤ 8 MiB), let go of after ~2 s unused. */
const pool = new IdlePool<{ memory: WebAssembly.Memory; pages: number; maxPages: number }>(16, 1000);

/** A module that imports its memory, and that memory's type: what runs in a pooled memory (a worker is sent one). */
export interface PooledVariant extends MemoryType {
  readonly module: WebAssembly.Module;
}

/** @internal A module's memory-importing variant, made and compiled on its first pooled run. */
export class PooledMemoryModule implements PooledVariant {
  readonly pages: number;
  readonly maxPages: number;
  #bytes: Uint8Array | undefined;
  #module: WebAssembly.Module | undefined;

  constructor(bytes: Uint8Array, type: MemoryType) {
    this.pages = type.pages;
    this.maxPages = type.maxPages;
    this.#bytes = bytes;
  }

  /** The variant, compiled in this thread on first use (it comes only from small modules). */
  get module(): WebAssembly.Module {
    if (this.#module === undefined) {
      this.#module = new WebAssembly.Module(importingMemory(this.#bytes!, this));
      this.#bytes = undefined;
    }
    return this.#module;
  }
}

/** What runs a module's (limited) bytes in a pooled memory, or undefined when its memory is not one to pool. Reads the sections only. */
export function pooledMemoryModule(bytes: Uint8Array): PooledMemoryModule | undefined {
  const type = importableMemory(bytes, maxPooledPages);
  return type === undefined ? undefined : new PooledMemoryModule(bytes, type);
}

/** A kept memory of this type, zeroed, or undefined when none is kept. */
export function takeMemory(type: MemoryType): WebAssembly.Memory | undefined {
  const found = pool.take((m) => m.pages === type.pages && m.maxPages === type.maxPages);
  if (found === undefined) return undefined;
  new Uint8Array(found.memory.buffer).fill(0);
  return found.memory;
}

/** Keep the memory of a process that is over, if it is still of this type (it did not grow). */
export function keepMemory(type: MemoryType, memory: unknown): void {
  if (!(memory instanceof WebAssembly.Memory) || memory.buffer.byteLength !== type.pages * wasmPage) return;
  pool.give({ memory, pages: type.pages, maxPages: type.maxPages });
}

/** `imports` with the memory a variant imports added; `imports` is the run's own object, so it is added to, not copied. */
export function withMemory(imports: WebAssembly.Imports, memory: WebAssembly.Memory): WebAssembly.Imports {
  (imports as Record<string, Record<string, unknown>>)[importedMemory.module] = { [importedMemory.name]: memory };
  return imports;
}

/** @internal Memories kept now (tests). */
export function pooledMemories(): number {
  return pool.size;
}
