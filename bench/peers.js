// The hosts the benchmark compares: strata and its in-process peers.
//
// Every host is driven through the same shape, so each case's code is the
// same for all of them:
//   load(guest)            -> a host-specific handle for one compiled guest
//   createRoot()           -> a fresh, empty root (the sandbox's "/")
//   run(root, handle, args)-> { exitCode, stdout, stderr } (strings)
//   disposeRoot(root)
//   createIdle()           -> (optional) one idle sandbox, for P5
// Guests always see the root preopened as "/" with cwd "/", argv[0] the
// guest's name, an empty environment and empty stdin. All hosts run in this
// process, on the main thread, one guest at a time.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
/** strata's build (dist/); STRATA_BENCH_DIST=DIR measures another build. */
export const distDir = path.resolve(process.env.STRATA_BENCH_DIST ?? path.join(here, '..', 'dist'));
/**
 * strata as users import it: the package's entry, the bundle
 * dist/bundle/index.js (scripts/bundle-lib.mjs); dist/index.js in a build
 * made before there was one. A case that also imports strata's internal
 * modules imports `distDir/index.js` instead, so that its classes are
 * those of the same modules.
 */
export const distEntry = fs.existsSync(path.join(distDir, 'bundle', 'index.js')) ? path.join(distDir, 'bundle', 'index.js') : path.join(distDir, 'index.js');

/**
 * @typedef {{ name: string, bytes: Uint8Array, module: WebAssembly.Module }} Guest
 * @typedef {{ exitCode: number, stdout: string, stderr: string }} RunResult
 * @typedef {object} Peer
 * @property {string} id           short column name
 * @property {string} label        package name as users know it
 * @property {string} setup        how the host is set up, for README and JSON
 * @property {() => Promise<void>} init  throws if the host is unavailable
 * @property {(g: Guest) => Promise<any>} load
 * @property {() => Promise<any>} createRoot
 * @property {(root: any) => Promise<void>} disposeRoot
 * @property {(root: any, handle: any, args: string[]) => Promise<RunResult>} run
 * @property {(() => Promise<any>) | undefined} createIdle
 * @property {string | undefined} idleNa  why P5 does not apply
 */

const decoder = new TextDecoder();
const text = (/** @type {Uint8Array | string | undefined} */ b) =>
  b === undefined ? '' : typeof b === 'string' ? b : decoder.decode(b);

/** Directory for host-directory roots: /dev/shm when present, else the OS tmpdir. */
export const hostTmpBase = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

/** @returns {Peer} */
function strataPeer() {
  /** @type {any} */
  let strata;
  return {
    id: 'strata',
    label: 'strata',
    setup: "Sandbox.create({ root: 'tmpfs' }) per root; sandbox.run(compileGuest(bytes), { args, argv0, env: {}, stdin: '' })",
    async init() {
      if (!fs.existsSync(distEntry)) {
        throw new Error(`strata not built: ${distEntry} is missing (run \`npm run build\`)`);
      }
      strata = await import(pathToFileURL(distEntry).href);
      for (const name of ['Sandbox', 'compileGuest']) {
        if (!(name in strata)) throw new Error(`strata not built: ${distEntry} does not export ${name}`);
      }
    },
    async load(g) {
      return { mod: await strata.compileGuest(g.bytes), name: g.name };
    },
    async createRoot() {
      return strata.Sandbox.create({ root: 'tmpfs' });
    },
    async disposeRoot(sandbox) {
      // The Sandbox API may grow a way to release a root; use it when it exists.
      for (const m of ['close', 'dispose', 'destroy']) {
        if (typeof sandbox?.[m] === 'function') return void (await sandbox[m]());
      }
      if (typeof sandbox?.[Symbol.asyncDispose] === 'function') await sandbox[Symbol.asyncDispose]();
    },
    // No timeout: the peers have none, and strata's (V8's watchdog thread)
    // has a cost of its own, which P1 reports separately.
    async run(sandbox, guest, args, extra = {}) {
      const r = await sandbox.run(guest.mod, {
        args,
        argv0: guest.name,
        env: {},
        stdin: '',
        ...extra,
      });
      return { exitCode: r.exitCode, stdout: text(r.stdout), stderr: text(r.stderr) };
    },
    async createIdle() {
      return strata.Sandbox.create({ root: 'tmpfs' });
    },
    idleNa: undefined,
  };
}

/** @returns {Peer} */
function nodeWasiPeer() {
  /** @type {typeof import('node:wasi').WASI} */
  let WASI;
  let devNull = -1;
  return {
    id: 'node:wasi',
    label: 'node:wasi',
    setup: `new WASI({ version: 'preview1', preopens: { '/': DIR }, returnOnExit: true }) per run; DIR a fresh mkdtemp directory under ${hostTmpBase} per root; stdin /dev/null; stdout and stderr captured through files beside DIR (opened, read and closed inside the timed run)`,
    async init() {
      ({ WASI } = await import('node:wasi'));
      devNull = fs.openSync('/dev/null', 'r');
    },
    async load(g) {
      return g;
    },
    async createRoot() {
      const base = fs.mkdtempSync(path.join(hostTmpBase, 'strata-bench-'));
      const dir = path.join(base, 'root');
      fs.mkdirSync(dir);
      return { base, dir };
    },
    async disposeRoot(root) {
      fs.rmSync(root.base, { recursive: true, force: true });
    },
    async run(root, g, args) {
      const outPath = path.join(root.base, 'stdout');
      const errPath = path.join(root.base, 'stderr');
      const out = fs.openSync(outPath, 'w+');
      const err = fs.openSync(errPath, 'w+');
      try {
        const wasi = new WASI({
          version: 'preview1',
          args: [g.name, ...args],
          env: {},
          preopens: { '/': root.dir },
          stdin: devNull,
          stdout: out,
          stderr: err,
          returnOnExit: true,
        });
        const instance = new WebAssembly.Instance(g.module, /** @type {any} */ (wasi.getImportObject()));
        const exitCode = wasi.start(instance);
        return { exitCode, stdout: fs.readFileSync(outPath, 'utf8'), stderr: fs.readFileSync(errPath, 'utf8') };
      } finally {
        fs.closeSync(out);
        fs.closeSync(err);
      }
    },
    createIdle: undefined,
    idleNa: 'its root is a host directory: the files live in the kernel page cache, not in this process',
  };
}

/** @returns {Peer} */
function bjorn3Peer() {
  /** @type {any} */
  let shim;
  return {
    id: 'browser_wasi_shim',
    label: '@bjorn3/browser_wasi_shim',
    setup: "new PreopenDirectory('/', new Map()) per root; new WASI(argv, [], [stdin OpenFile(empty File), ConsoleStdout, ConsoleStdout, root]) + new WebAssembly.Instance per run",
    async init() {
      shim = await import('@bjorn3/browser_wasi_shim');
    },
    async load(g) {
      return g;
    },
    async createRoot() {
      return new shim.PreopenDirectory('/', new Map());
    },
    async disposeRoot() {},
    async run(root, g, args) {
      /** @type {Uint8Array[]} */ const out = [];
      /** @type {Uint8Array[]} */ const err = [];
      const fds = [
        new shim.OpenFile(new shim.File(new Uint8Array(0))),
        new shim.ConsoleStdout((/** @type {Uint8Array} */ b) => out.push(b)),
        new shim.ConsoleStdout((/** @type {Uint8Array} */ b) => err.push(b)),
        root,
      ];
      // 0.4.2 logs every call to the console unless told not to.
      const wasi = new shim.WASI([g.name, ...args], [], fds, { debug: false });
      const instance = new WebAssembly.Instance(g.module, { wasi_snapshot_preview1: wasi.wasiImport });
      const exitCode = wasi.start(instance);
      return { exitCode, stdout: concatText(out), stderr: concatText(err) };
    },
    async createIdle() {
      const root = new shim.PreopenDirectory('/', new Map());
      const fds = [
        new shim.OpenFile(new shim.File(new Uint8Array(0))),
        new shim.ConsoleStdout(() => {}),
        new shim.ConsoleStdout(() => {}),
        root,
      ];
      return new shim.WASI(['idle'], [], fds, { debug: false });
    },
    idleNa: undefined,
  };
}

/** @returns {Peer} */
function wasmerPeer() {
  /** @type {any} */
  let wasmer;
  return {
    id: '@wasmer/wasi',
    label: '@wasmer/wasi',
    setup: "await init() once; new MemFS() per root; new WASI({ args, env: {}, preopens: { '/': '/' }, fs }) + wasi.instantiate(module) per run, freed after. wasmer also installs its own virtual root \"/\" as fd 3; the mapped root is fd 4 (named \"\")",
    async init() {
      // The package has no "exports" map; its "main" is a CommonJS build with
      // the wasm inlined, which Node loads without fetch().
      wasmer = require('@wasmer/wasi');
      await wasmer.init();
    },
    async load(g) {
      return g;
    },
    async createRoot() {
      return { fs: new wasmer.MemFS() };
    },
    async disposeRoot(root) {
      root.fs.free();
    },
    async run(root, g, args) {
      // Handing a MemFS to a WASI moves it; the next run of the same root
      // takes the handle back from `wasi.fs`.
      const wasi = new wasmer.WASI({ args: [g.name, ...args], env: {}, preopens: { '/': '/' }, fs: root.fs });
      try {
        wasi.instantiate(g.module, {});
        const exitCode = wasi.start();
        return { exitCode, stdout: wasi.getStdoutString(), stderr: wasi.getStderrString() };
      } finally {
        root.fs = wasi.fs;
        wasi.free();
      }
    },
    async createIdle() {
      return new wasmer.WASI({ args: ['idle'], env: {}, preopens: { '/': '/' }, fs: new wasmer.MemFS() });
    },
    idleNa: undefined,
  };
}

/** @returns {Peer} */
function tybysPeer() {
  /** @type {any} */
  let wasmUtil;
  /** @type {any} */
  let memfs;
  return {
    id: 'wasm-util+memfs',
    label: '@tybys/wasm-util + memfs',
    setup: "createFsFromVolume(new Volume()) per root; new WASI({ version: 'preview1', args, env: {}, preopens: { '/': '/' }, fs, returnOnExit: true, print, printErr }) + new WebAssembly.Instance per run",
    async init() {
      wasmUtil = await import('@tybys/wasm-util');
      memfs = await import('memfs');
    },
    async load(g) {
      return g;
    },
    async createRoot() {
      return memfs.createFsFromVolume(new memfs.Volume());
    },
    async disposeRoot() {},
    async run(vfs, g, args) {
      /** @type {string[]} */ const out = [];
      /** @type {string[]} */ const err = [];
      const wasi = new wasmUtil.WASI({
        version: 'preview1',
        args: [g.name, ...args],
        env: {},
        preopens: { '/': '/' },
        fs: vfs,
        returnOnExit: true,
        // wasm-util hands over stdout line by line, without the newline.
        print: (/** @type {string} */ s) => out.push(s + '\n'),
        printErr: (/** @type {string} */ s) => err.push(s + '\n'),
      });
      const instance = new WebAssembly.Instance(g.module, wasi.getImportObject());
      const exitCode = wasi.start(instance);
      return { exitCode: exitCode ?? 0, stdout: out.join(''), stderr: err.join('') };
    },
    async createIdle() {
      const vfs = memfs.createFsFromVolume(new memfs.Volume());
      return new wasmUtil.WASI({ version: 'preview1', args: ['idle'], env: {}, preopens: { '/': '/' }, fs: vfs, returnOnExit: true });
    },
    idleNa: undefined,
  };
}

/** @param {Uint8Array[]} chunks */
function concatText(chunks) {
  return chunks.map((c) => decoder.decode(c, { stream: true })).join('') + decoder.decode();
}

/** All hosts, strata first; the order is the table's column order. */
export function allPeers() {
  return [strataPeer(), nodeWasiPeer(), bjorn3Peer(), wasmerPeer(), tybysPeer()];
}

/** The peer ids in column order, without initialising anything. */
export const peerIds = ['strata', 'node:wasi', 'browser_wasi_shim', '@wasmer/wasi', 'wasm-util+memfs'];
