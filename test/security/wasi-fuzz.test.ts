/**
 * Seeded fuzz of the WASI host: all 46 preview1 functions, driven
 * directly (as test/wasi/harness.ts does) with boundary arguments, over a
 * small memory and one over 2 GiB (untouched pages stay virtual), on a
 * tmpfs with tight quotas. Each call must return an errno or end the
 * process (proc_exit, proc_raise, the deadline); any other exception is a
 * host bug. An ended process is replaced by a new one over the same tree,
 * as runs after runs of one sandbox are. After each batch the quota
 * counters must equal a recount of the tree.
 *
 * A few seconds by default; STRATA_FUZZ_CALLS (per memory) and
 * STRATA_FUZZ_SEED run it longer or replay a failure.
 */
import { describe, expect, it } from 'vitest';
import { Namespace, type Node } from '../../src/vfs/index.js';
import { Tmpfs } from '../../src/vfs/tmpfs.js';
import { FileDescriptor } from '../../src/wasi/descriptor.js';
import { GuestDeadline, ProcExit, WasiHost, wasiFunctionNames, wasiSignatures } from '../../src/wasi/index.js';
import { over2GiBPages } from './direct-host.js';
import { expectExactUsage } from './recount.js';
import { seededRandom as random } from '../support/seeded-random.js';

const calls = Number(process.env['STRATA_FUZZ_CALLS'] ?? 10000);
const seed = Number(process.env['STRATA_FUZZ_SEED'] ?? 0x5eed);
const batch = 100;


/** 64-bit parameters, by function. */
const i64Params: Readonly<Record<string, readonly string[]>> = {
  clock_time_get: ['precision'],
  fd_advise: ['offset', 'len'],
  fd_allocate: ['offset', 'len'],
  fd_fdstat_set_rights: ['rightsBase', 'rightsInheriting'],
  fd_filestat_set_size: ['size'],
  fd_filestat_set_times: ['atim', 'mtim'],
  fd_pread: ['offset'],
  fd_pwrite: ['offset'],
  fd_readdir: ['cookie'],
  fd_seek: ['offset'],
  path_filestat_set_times: ['atim', 'mtim'],
  path_open: ['rightsBase', 'rightsInheriting'],
};
const fdParams = new Set(['fd', 'oldFd', 'newFd', 'to']);
const scalarParams = new Set([
  'flags', 'advice', 'whence', 'id', 'code', 'sig', 'oflags', 'fdflags', 'dirflags', 'fstflags', 'how',
  'oldFlags', 'riFlags', 'siFlags', 'nsubscriptions',
]);

const i64Pool = [0n, 1n, 2n, 7n, 100n, 4096n, 2n ** 20n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, -1n, -(2n ** 63n), 0x3fffffffn];
const scalarPool = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 255, 0xffff, 0x7fffffff, -1, 65536, 65537];
const fdPool = [0, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 99, 1023, 1024, 0x7fffffff, -1];

/** Strings a path argument may be, as bytes. */
const texts: Uint8Array[] = [
  'a', 'b', 'd', 'd/x', 'd/y/z', 'l', 'dl', '..', '.', '/', '', 'a/', 'd/..', '../../a', 'x'.repeat(255), 'y'.repeat(256),
  `${'d/'.repeat(60)}f`, 'é', 'a\0b', 'z'.repeat(4095), 'w'.repeat(4096), 'new', 'link', 'sub/dir',
].map((s) => new TextEncoder().encode(s));
texts.push(new Uint8Array([0xff, 0xfe, 0x41]));

interface Lane {
  readonly name: string;
  readonly memory: WebAssembly.Memory;
}

/** Lay out the fixed region: strings, iovecs, subscriptions, and return where each string is. */
function layout(memory: WebAssembly.Memory, rand: () => number): [number, number][] {
  const u8 = new Uint8Array(memory.buffer);
  const dv = new DataView(memory.buffer);
  const strings: [number, number][] = [];
  let at = 0x10000;
  for (const t of texts) {
    u8.set(t, at);
    strings.push([at, t.length]);
    at += t.length + 8;
  }
  // iovecs at 0x1000 (32 of them) into a data area at 0x2000.
  for (let i = 0; i < 32; i++) {
    const lens = [0, 1, 16, 512, 4096, 0x7fffffff, 100];
    dv.setUint32(0x1000 + i * 8, 0x2000 + Math.floor(rand() * 0x4000), true);
    dv.setUint32(0x1000 + i * 8 + 4, lens[Math.floor(rand() * lens.length)]!, true);
  }
  // subscriptions at 0x8000: clocks with small or huge timeouts, fd reads and writes.
  for (let i = 0; i < 16; i++) {
    const p = 0x8000 + i * 48;
    dv.setBigUint64(p, BigInt(i), true);
    const tag = i % 3;
    dv.setUint8(p + 8, tag);
    if (tag === 0) {
      dv.setUint32(p + 16, i % 4, true);
      dv.setBigUint64(p + 24, [0n, 1000n, 10n ** 12n][i % 3]!, true);
      dv.setUint16(p + 40, i % 2, true);
    } else {
      dv.setUint32(p + 16, fdPool[i % fdPool.length]! >>> 0, true);
    }
  }
  return strings;
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

/** The nodes open fds hold (unlinked files among them keep their quota). */
function held(host: WasiHost): Node[] {
  const nodes: Node[] = [];
  for (let fd = 0; fd < 64; fd++) {
    try {
      const d = host.context.fds.get(fd);
      if (d instanceof FileDescriptor) nodes.push(d.node);
    } catch {
      // Not open.
    }
  }
  return nodes;
}

function fuzzLane(lane: Lane, laneSeed: number): { calls: number; ends: number; errnos: Set<number>; functions: Set<string> } {
  const rand = random(laneSeed);
  const fs = new Tmpfs({ dev: 1n, limits: { maxBytes: 1 << 20, maxInodes: 64, maxMetadataBytes: 32 << 10 } });
  const ns = new Namespace(fs.root);
  ns.mkdir(ns.root, 'd');
  ns.open(ns.root, 'a', { follow: false, create: true });
  ns.symlink('d', ns.root, 'dl');
  const strings = layout(lane.memory, rand);
  const end = lane.memory.buffer.byteLength;
  const pointers = [0, 8, 0x100, 0x1000, 0x2000, 0x8000, 0x10000, end - 64, end - 8, end - 1, end, end + 8, 0x7fffffff, 0x80000000 | 0, (0x80000000 + 0x40) | 0, 0xfffffff0 | 0, -1];
  const lengths = [0, 1, 2, 8, 16, 255, 256, 4095, 4096, 65536, 0x7fffffff, 0x80000000 | 0, -1, 3, 32];
  const newHost = () => {
    const host = new WasiHost({
      namespace: ns,
      args: ['fuzz', 'arg'],
      env: ['K=V'],
      preopens: [{ path: '/', dir: ns.root }],
      maxFds: 32,
      deadline: performance.now() + 20,
      stdout: { write() {} },
      stderr: { write() {} },
    });
    host.bindMemory(lane.memory);
    return host;
  };
  let host = newHost();
  let ends = 0;
  const errnos = new Set<number>();
  const functions = new Set<string>();
  for (let n = 0; n < calls; n++) {
    const fn = pick(rand, wasiFunctionNames);
    const params = wasiSignatures[fn]!;
    const args: (number | bigint)[] = [];
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (params[i + 1] === `${p}Len`) {
        if (rand() < 0.7) args.push(...pick(rand, strings));
        else args.push(pick(rand, pointers), pick(rand, lengths));
        i++;
      } else if (i64Params[fn]?.includes(p) === true) args.push(pick(rand, i64Pool));
      else if (fdParams.has(p)) args.push(pick(rand, fdPool));
      else if (p === 'nsubscriptions') args.push(pick(rand, [1, 2, 3, 16, 0, 65537, -1]));
      else if (scalarParams.has(p)) args.push(pick(rand, scalarPool));
      else args.push(pick(rand, pointers));
    }
    const f = host.imports.wasi_snapshot_preview1[fn] as unknown as (...a: (number | bigint)[]) => number;
    functions.add(fn);
    try {
      const result = f(...args);
      if (!Number.isInteger(result) || result < 0 || result > 76) throw new Error(`returned ${String(result)}`);
      errnos.add(result);
    } catch (error) {
      if (!(error instanceof ProcExit || error instanceof GuestDeadline)) {
        throw new Error(`seed ${laneSeed}, call ${n}: ${fn}(${args.map(String).join(', ')}) threw ${String(error)}`, { cause: error });
      }
      ends++;
      host.context.fds.closeAll();
      host = newHost();
    }
    if ((n + 1) % batch === 0) expectExactUsage(fs, held(host), `after call ${n} (seed ${laneSeed})`);
  }
  host.context.fds.closeAll();
  expectExactUsage(fs, [], `after the last run (seed ${laneSeed})`);
  return { calls, ends, errnos, functions };
}

describe(`WASI fuzz (seed ${seed}, ${calls} calls per memory)`, () => {
  it('one page of memory: every call answers an errno or ends the process; quotas stay exact', () => {
    const r = fuzzLane({ name: 'small', memory: new WebAssembly.Memory({ initial: 2, maximum: 2 }) }, seed);
    expect(r.functions.size).toBe(calls >= 2000 ? 46 : r.functions.size);
    expect(r.errnos.has(0)).toBe(true);
  });

  it('a memory over 2 GiB: the same, with pointers on both sides of 2^31', () => {
    const memory = new WebAssembly.Memory({ initial: over2GiBPages, maximum: 65536 });
    const before = process.memoryUsage().rss;
    const r = fuzzLane({ name: 'large', memory }, seed + 1);
    expect(r.functions.size).toBe(calls >= 2000 ? 46 : r.functions.size);
    // Only the pages the calls touched became real.
    expect(process.memoryUsage().rss - before).toBeLessThan(512 << 20);
  });
});
