/**
 * SandboxPool: sandboxes on worker threads, so the app's event loop keeps
 * running while guests compute, and a guest is killed in milliseconds.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ErrorCode, StrataError } from '../../errors.js';
import { distModule } from '../../package-files.js';
import { defaultStoreRoot, type ImageRecord } from '../../oci/index.js';
import { GuestModule, readModuleSource } from '../guest-module.js';
import { compiledProgram } from '../program.js';
import { isComponent } from '../../component/index.js';
import type { HostComponent } from './component-process.js';
import { resolveImage } from '../image.js';
import type { SandboxOptions } from '../sandbox.js';
import { HomeWorker } from './home-worker.js';
import { terminator, warnKillFallback } from './kill.js';
import { PooledSandbox, type PoolLink } from './pooled-sandbox.js';
import { compileLimits, type GuestLimits } from './worker-process.js';
import type { WireSandboxOptions } from './protocol.js';

/** Options of {@link SandboxPool}. */
export interface SandboxPoolOptions {
  /** Most worker threads. Default `os.availableParallelism()`. */
  readonly size?: number;
  /** End a worker that has held no sandbox for this long (ms); `Infinity` keeps it. Default 30 000. */
  readonly idleTimeoutMs?: number;
  /** Most processes one sandbox may have queued or running (ERR_PROCESS_LIMIT past it). Default 64. */
  readonly maxProcessesPerSandbox?: number;
}

/** Options of {@link SandboxPool.create}: those of `Sandbox.create`. */
export type PooledSandboxOptions = SandboxOptions;

let lastSandbox = 0;

// Modules from the host compile once per content digest and limits in this
// thread (program.ts), whatever the pool; a Module posted to a worker shares
// its compiled code.

/**
 * A pool of worker threads, each the home of some sandboxes: a sandbox's
 * filesystem and its processes live on its home worker's thread, so its
 * syscalls never cross threads, and the app's event loop keeps running
 * while guests compute. Workers start on demand, up to `size`; a new
 * sandbox goes to the least-loaded one. Idle workers do not keep the app
 * alive.
 *
 * Errors of the constructor: ERR_INVALID_OPTION.
 *
 * @example
 * const pool = new SandboxPool({ size: 4 });
 * const sandbox = await pool.create({ image: 'oci:examples/hello-image' });
 * const child = sandbox.spawn(['hello', 'pool'], { timeoutMs: 1_000 });
 * child.stdout.pipe(process.stdout);
 * console.log(await child.exited); // { code: 0, signal: null, reason: 'exit', … }
 * await pool.close();
 */
export class SandboxPool {
  /** Most worker threads. */
  readonly size: number;
  /** How long a worker with no sandbox lives on (ms). */
  readonly idleTimeoutMs: number;
  /** Most processes queued or running per sandbox. */
  readonly maxProcessesPerSandbox: number;
  readonly #homes: HomeWorker[] = [];
  readonly #script: URL;
  readonly #link: PoolLink;
  readonly #sandboxes = new Map<PooledSandbox, HomeWorker>();
  readonly #starting = new Set<Promise<HomeWorker>>();
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SandboxPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    const idle = options.idleTimeoutMs ?? 30_000;
    const maxProcesses = options.maxProcessesPerSandbox ?? 64;
    if (!Number.isInteger(size) || size < 1) throw new StrataError(ErrorCode.invalidOption, `size must be a positive integer, got ${String(size)}`);
    if (typeof idle !== 'number' || Number.isNaN(idle) || idle < 0) throw new StrataError(ErrorCode.invalidOption, `idleTimeoutMs must be a number >= 0, got ${String(idle)}`);
    if (!Number.isInteger(maxProcesses) || maxProcesses < 1) {
      throw new StrataError(ErrorCode.invalidOption, `maxProcessesPerSandbox must be a positive integer, got ${String(maxProcesses)}`);
    }
    this.size = size;
    this.idleTimeoutMs = idle;
    this.maxProcessesPerSandbox = maxProcesses;
    // Beside this module when it runs from dist/; from the package's dist/ when it runs inside the CLI bundle.
    const beside = new URL('./worker-entry.js', import.meta.url);
    this.#script = existsSync(beside) ? beside : distModule('sandbox/pool/worker-entry.js');
    this.#link = {
      maxProcessesPerSandbox: maxProcesses,
      compile: (source, limits) => this.#compile(source, limits),
      closed: (sandbox) => this.#forget(sandbox),
      nextId: () => ++lastSandbox,
      adopt: (id, home) => {
        home.sandboxes++;
        const sandbox = new PooledSandbox(id, home, this.#link);
        this.#sandboxes.set(sandbox, home);
        return sandbox;
      },
    };
  }

  /** Worker threads running now. */
  get workers(): number {
    return this.#homes.length;
  }

  /**
   * Make a sandbox on the least-loaded worker. The main thread resolves
   * the image (pulling it when missing); the worker opens it from the
   * store's cached layer indexes, once per worker. With `from`, the worker
   * restores the snapshot itself (`Sandbox.create({ from })`, reading the
   * store), when it is idle; a snapshot's layers are opened and verified
   * once per worker, so a golden snapshot is restored many times over in
   * parallel across the workers.
   *
   * Errors: those of `Sandbox.create`; ERR_INVALID_OPTION (the pool is
   * closed, `from` with `image`); ERR_INTERNAL (the worker script is missing: the pool runs
   * from the built package, `dist/`).
   */
  async create(options: PooledSandboxOptions = {}): Promise<PooledSandbox> {
    if (this.#closed) throw new StrataError(ErrorCode.invalidOption, 'the pool is closed');
    if (options.from !== undefined && options.image !== undefined) throw new StrataError(ErrorCode.invalidOption, '`from` and `image` cannot both be given: a snapshot names its image');
    const cwd = options.cwd ?? process.cwd();
    let record: ImageRecord | undefined;
    let storeRoot = options.store?.root ?? defaultStoreRoot();
    if (typeof options.image === 'string') {
      const resolved = await resolveImage(options.image, {
        cwd,
        ...(options.store !== undefined && { store: options.store }),
        ...(options.pull !== undefined && { pull: options.pull }),
        ...(options.insecure !== undefined && { insecure: options.insecure }),
        ...(options.onPullEvent !== undefined && { onEvent: options.onPullEvent }),
      });
      record = resolved.record;
      storeRoot = resolved.store.root;
    } else if (options.image !== undefined) {
      record = options.image.record;
    }
    const wire: WireSandboxOptions = {
      cwd,
      storeRoot,
      ...(record !== undefined && { record }),
      ...(options.from !== undefined && { from: options.from }),
      ...(options.root !== undefined && { root: options.root }),
      ...(options.tmpfs !== undefined && { tmpfs: options.tmpfs }),
      ...(options.upper !== undefined && { upper: options.upper }),
      ...(options.mounts !== undefined && { mounts: options.mounts }),
      ...(options.dev !== undefined && { dev: options.dev }),
    };
    const home = await this.#pick();
    const id = ++lastSandbox;
    try {
      await home.call(0, 'create', [id, wire]);
    } catch (error) {
      home.sandboxes--;
      if (home.sandboxes === 0) home.emptySince = performance.now();
      throw error;
    }
    const sandbox = new PooledSandbox(id, home, this.#link);
    this.#sandboxes.set(sandbox, home);
    return sandbox;
  }

  /** End every worker: their sandboxes are gone and their processes end (reason `error`, ERR_WORKER_LOST). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    await Promise.all([...this.#starting].map((p) => p.catch(() => undefined)));
    await Promise.all(this.#homes.splice(0).map((home) => home.terminate()));
    this.#sandboxes.clear();
  }

  /** The worker for a new sandbox, with the sandbox counted: an empty one, a new one while under `size`, else the least loaded. */
  async #pick(): Promise<HomeWorker> {
    if (this.#closed) throw new StrataError(ErrorCode.invalidOption, 'the pool is closed');
    const live = this.#homes.filter((h) => h.lost === undefined);
    let home = live.find((h) => h.sandboxes === 0);
    if (home === undefined && live.length + this.#starting.size < this.size) {
      const starting = this.#start();
      this.#starting.add(starting);
      try {
        home = await starting;
      } finally {
        this.#starting.delete(starting);
      }
    } else if (home === undefined && live.length === 0) {
      home = await [...this.#starting][0]!;
    }
    home ??= live.reduce((a, b) => (b.sandboxes + b.processes < a.sandboxes + a.processes ? b : a));
    home.sandboxes++;
    return home;
  }

  async #start(): Promise<HomeWorker> {
    if (!existsSync(fileURLToPath(this.#script))) {
      throw new StrataError(ErrorCode.internal, `the pool's worker script ${fileURLToPath(this.#script)} is missing: SandboxPool runs from the built package (npm run build)`);
    }
    const kill = await terminator();
    const home = new HomeWorker(this.#script, kill, (lost) => this.#drop(lost));
    await home.ready;
    if (this.#closed) {
      await home.terminate();
      throw new StrataError(ErrorCode.invalidOption, 'the pool is closed');
    }
    if (kill === undefined) warnKillFallback('node:inspector is unavailable');
    else if (!(await kill.attached(home.worker))) warnKillFallback('a pool worker has no inspector session');
    this.#homes.push(home);
    this.#watchIdle();
    return home;
  }

  #drop(home: HomeWorker): void {
    const at = this.#homes.indexOf(home);
    if (at >= 0) this.#homes.splice(at, 1);
    for (const [sandbox, h] of this.#sandboxes) if (h === home) this.#sandboxes.delete(sandbox);
  }

  #forget(sandbox: PooledSandbox): void {
    const home = this.#sandboxes.get(sandbox);
    if (home === undefined) return;
    this.#sandboxes.delete(sandbox);
    home.sandboxes--;
    if (home.sandboxes === 0) home.emptySince = performance.now();
  }

  /** End workers that held no sandbox for idleTimeoutMs. */
  #watchIdle(): void {
    if (this.#idleTimer !== undefined || !Number.isFinite(this.idleTimeoutMs)) return;
    this.#idleTimer = setInterval(() => {
      const now = performance.now();
      for (const home of [...this.#homes]) {
        if (home.sandboxes === 0 && home.processes === 0 && now - home.emptySince >= this.idleTimeoutMs) {
          this.#drop(home);
          void home.terminate();
        }
      }
    }, Math.max(10, Math.min(this.idleTimeoutMs, 1_000)));
    this.#idleTimer.unref();
  }

  /** A module compiled once per content digest and memory limit, asynchronously, on this thread; a component's bytes as they are. */
  async #compile(source: GuestModule | Uint8Array | string, limits: GuestLimits): Promise<GuestModule | HostComponent> {
    if (source instanceof GuestModule) {
      // Extra imports are host functions, which cannot cross to a worker: the pool runs preview1 commands.
      if (source.kind !== 'command') throw new StrataError(ErrorCode.notWasiCommand, `'${source.name}' is a WASI reactor (no "_start"): reactors run in-thread, with Sandbox.instantiate()`);
      return source;
    }
    const { bytes, name } = await readModuleSource(source);
    // A component is transpiled and loaded by the worker (component-process.ts).
    if (isComponent(bytes)) return { bytes, name };
    const compiled = compiledProgram(bytes, compileLimits(limits));
    const guest = await compiled.catch((error: unknown) => {
      throw error instanceof StrataError ? new StrataError(error.code, error.message.replaceAll("'main.wasm'", `'${name}'`), { cause: error }) : error;
    });
    return guest.name === name ? guest : new GuestModule(guest.module, guest.memoryLimitBytes, name, guest.kind, guest.imports, guest.pooled);
  }
}
