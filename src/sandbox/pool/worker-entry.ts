/**
 * The main of a pool worker: the home of its sandboxes. It builds them,
 * runs their processes one at a time behind the syscall gate, and serves
 * their fs calls. See the pool README for the invariants.
 */
import { MessageChannel, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ImageStore } from '../../oci/index.js';
import { imageFromRecord, type Image } from '../image.js';
import { ErrorCode, StrataError } from '../../errors.js';
import { Sandbox, type SandboxCommitOptions, type SandboxOptions } from '../sandbox.js';
import { FsServer, settledNow, type PortCall } from './fs-server.js';
import { SyscallGate } from './gate.js';
import type { FromWorker, ToWorker, WireSandboxOptions, WireSpawn } from './protocol.js';
import { prepare, runPrepared, type Prepared, type Running } from './worker-process.js';
import { toWire } from './wire-error.js';

/** What the pool hands each worker at start. */
export interface WorkerInit {
  readonly control: SharedArrayBuffer;
  readonly fsPort: MessagePort;
}

const port = parentPort!;
const init = workerData as WorkerInit;
const control = new Int32Array(init.control);
const sandboxes = new Map<number, Sandbox>();
// Stores and images this worker opened, so a create that finds them here finishes without awaiting.
const stores = new Map<string, ImageStore>();
const images = new Map<string, Image>();
const imageKey = (options: WireSandboxOptions) => `${options.storeRoot}\0${options.record?.manifestDigest ?? ''}`;
const createCall: PortCall = {
  run: (args) => {
    const [id, options] = args as [number, WireSandboxOptions];
    return createCall.now(args) ? createNow(id, options) : create(id, options);
  },
  now: (args) => {
    const options = args[1] as WireSandboxOptions;
    // A restore awaits the snapshot's layers (read and verified once per worker), so it waits for the worker to be idle.
    return options.from === undefined && stores.has(options.storeRoot) && (options.record === undefined || images.has(imageKey(options)));
  },
};
// Delta layers of sealed commits, written once the worker is idle.
const writes: (() => void)[] = [];
const commitCall: PortCall = {
  run: (args) => {
    const [sandboxId, options] = args as [number, SandboxCommitOptions];
    const sandbox = sandboxes.get(sandboxId);
    if (sandbox === undefined) throw new StrataError(ErrorCode.invalidOption, `sandbox ${sandboxId} is closed`);
    const sealed = sandbox.beginCommit(options);
    return new Promise((resolve, reject) => {
      writes.push(() => void sealed.write().then(resolve, reject));
      if (gate.pid === 0) writeSealed();
    });
  },
  // The seal is synchronous and O(1); the write starts only when no guest's syscall is on the stack.
  now: () => true,
};
const fs = new FsServer(sandboxes, init.fsPort, control, new Map([['create', createCall], ['commit', commitCall]]));
const gate = new SyscallGate(control, () => fs.drain());
let running: Running | undefined;

/**
 * Start the writes of commits sealed meanwhile. Called only from the
 * worker's own event loop with no guest running: a termination drops
 * pending microtasks, so an await started inside a guest's syscall could
 * be lost. A guest started later blocks this thread, so a write in
 * progress goes on after it.
 */
function writeSealed(): void {
  for (const write of writes.splice(0)) write();
}

const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

// A guest runs from a message event of its own, never from a microtask: a
// termination drops V8's pending microtasks, and must drop only the guest's.
const runner = new MessageChannel();
const ready: { spec: WireSpawn; prepared: Prepared }[] = [];
runner.port2.on('message', () => {
  const job = ready.shift();
  if (job === undefined) return;
  const sandbox = sandboxes.get(job.spec.sandbox);
  const report =
    sandbox === undefined
      ? { code: null, reason: 'killed' as const, durationMs: 0 }
      : runPrepared(sandbox, job.spec, job.prepared, gate, post, (r) => (running = r));
  post({ t: 'exited', pid: job.spec.pid, ...report });
  fs.idle();
  writeSealed();
});
runner.port2.unref();

port.on('message', (message: ToWorker) => {
  switch (message.t) {
    case 'spawn':
      void spawn(message.spawn);
      break;
    case 'reap':
      reap(message.pid);
      break;
    case 'close':
      close(message.id, message.sandbox);
      break;
    case 'fork':
      void fork(message.id, message.sandbox, message.child);
      break;
  }
});

/**
 * Build a sandbox. Served on the fs port: also between a running guest's
 * syscalls once this worker has the store and the image open, since then
 * nothing is awaited ({@link createNow}).
 */
async function create(sandboxId: number, options: WireSandboxOptions): Promise<void> {
  if (!stores.has(options.storeRoot)) stores.set(options.storeRoot, await ImageStore.open(options.storeRoot));
  if (options.from !== undefined) {
    sandboxes.set(sandboxId, await Sandbox.create({ ...sandboxOptions(options), from: options.from }));
    return;
  }
  if (options.record !== undefined && !images.has(imageKey(options))) {
    images.set(imageKey(options), await imageFromRecord(stores.get(options.storeRoot)!, options.record));
  }
  createNow(sandboxId, options);
}

/** Build a sandbox from the store and image this worker holds, synchronously (`Sandbox.create` given an Image awaits nothing). */
function createNow(sandboxId: number, options: WireSandboxOptions): void {
  const image = options.record === undefined ? undefined : images.get(imageKey(options));
  const made = settledNow(Sandbox.create({ ...sandboxOptions(options), ...(image !== undefined && { image }) }));
  if (made === undefined) throw new Error('Sandbox.create awaited something: it cannot be served between syscalls');
  if ('error' in made) throw made.error;
  sandboxes.set(sandboxId, made.value as Sandbox);
}

/** The options of `Sandbox.create` a wire create carries, over the store this worker opened. */
function sandboxOptions(options: WireSandboxOptions): SandboxOptions {
  return {
    store: stores.get(options.storeRoot)!,
    cwd: options.cwd,
    pull: 'never',
    ...(options.root !== undefined && { root: options.root }),
    ...(options.tmpfs !== undefined && { tmpfs: options.tmpfs }),
    ...(options.upper !== undefined && { upper: options.upper }),
    ...(options.mounts !== undefined && { mounts: options.mounts }),
    ...(options.dev !== undefined && { dev: options.dev }),
  };
}

function close(id: number, sandboxId: number): void {
  const sandbox = sandboxes.get(sandboxId);
  sandboxes.delete(sandboxId);
  try {
    sandbox?.close();
    post({ t: 'done', id });
  } catch (error) {
    post({ t: 'done', id, error: toWire(error) });
  }
}

/** Served only between processes (this port is read when the worker is idle), so no guest of the parent runs. */
async function fork(id: number, sandboxId: number, childId: number): Promise<void> {
  try {
    const parent = sandboxes.get(sandboxId);
    if (parent === undefined) throw new Error(`sandbox ${sandboxId} is closed`);
    sandboxes.set(childId, await parent.fork());
    post({ t: 'done', id });
  } catch (error) {
    post({ t: 'done', id, error: toWire(error) });
  }
}

async function spawn(spec: WireSpawn): Promise<void> {
  const sandbox = sandboxes.get(spec.sandbox);
  let prepared: Prepared;
  try {
    if (sandbox === undefined) throw new Error(`sandbox ${spec.sandbox} is closed`);
    prepared = await prepare(sandbox, spec);
  } catch (error) {
    post({ t: 'exited', pid: spec.pid, code: null, reason: 'error', error: toWire(error), durationMs: 0 });
    return;
  }
  ready.push({ spec, prepared });
  runner.port1.postMessage(null);
}

/**
 * The main thread terminated `pid`'s guest code: V8 unwound it without
 * running a finally, so close its fds here (releasing what they hold) and
 * report it. A process that had already ended is not reported twice.
 */
function reap(pid: number): void {
  const process = running;
  if (process === undefined || process.pid !== pid) return;
  running = undefined;
  gate.reset();
  try {
    process.host.context.fds.closeAll();
  } catch {
    // A failure to release is a host bug, but the worker and its other sandboxes go on.
  }
  post({ t: 'exited', pid, code: null, reason: 'killed', program: process.program, durationMs: performance.now() - process.started });
  fs.idle();
  writeSealed();
}

post({ t: 'ready' });
