/**
 * A WASI host driven directly (no guest module), over a memory of any
 * size: the hostile-guest repros that need a memory over 2 GiB, a
 * deadline or tight quotas. Pages never touched stay virtual, so a 2 GiB
 * memory costs the test almost nothing.
 */
import { Namespace, Tmpfs, type TmpfsLimits } from '../../src/vfs/index.js';
import { WasiHost, type WasiHostOptions } from '../../src/wasi/index.js';

/** Pages of a memory just over 2 GiB (2 GiB + 64 KiB). */
export const over2GiBPages = 32769;

export interface DirectHost {
  readonly fs: Tmpfs;
  readonly ns: Namespace;
  readonly host: WasiHost;
  readonly memory: WebAssembly.Memory;
  readonly w: Record<string, (...args: (number | bigint)[]) => number>;
  /** A fresh view of the memory. */
  u8(): Uint8Array;
  dv(): DataView;
  /** Put UTF-8 text at `ptr`; returns [ptr, byte length]. */
  put(ptr: number, text: string | Uint8Array): [number, number];
}

export function directHost(
  options: { pages?: number; maxPages?: number; limits?: Partial<TmpfsLimits>; deadline?: number } & Partial<WasiHostOptions> = {},
): DirectHost {
  const fs = new Tmpfs(options.limits === undefined ? { dev: 1n } : { dev: 1n, limits: options.limits });
  const ns = new Namespace(fs.root);
  const pages = options.pages ?? 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: options.maxPages ?? Math.max(pages, 1) });
  const host = new WasiHost({
    namespace: ns,
    args: ['prog'],
    env: [],
    preopens: [{ path: '/', dir: ns.root }],
    ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    ...(options.maxFds === undefined ? {} : { maxFds: options.maxFds }),
  });
  host.bindMemory(memory);
  const u8 = () => new Uint8Array(memory.buffer);
  return {
    fs,
    ns,
    host,
    memory,
    w: host.imports.wasi_snapshot_preview1 as unknown as DirectHost['w'],
    u8,
    dv: () => new DataView(memory.buffer),
    put(ptr, text) {
      const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
      u8().set(bytes, ptr);
      return [ptr, bytes.length];
    },
  };
}
