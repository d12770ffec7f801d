/**
 * A component cannot reach the host's filesystem through any import.
 *
 * The host's interfaces are called directly, as the transpiled glue calls
 * them, over a sandbox whose root holds links that point out (absolute,
 * climbing, through a bind mount of a host directory that itself holds a
 * link to the host's /etc), and every call that takes a path is tried with
 * every escaping path. A table lists every function of every interface, so
 * a new import cannot be added without saying how it is confined. The
 * transpiled glue of every committed component is checked to import
 * nothing (no preview2-shim, no node:*), and the loader refuses a glue
 * that would.
 */
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ComponentContext, componentImports, loadComponent, transpileComponent } from '../../src/component/index.js';
import { Sandbox } from '../../src/index.js';
import { tempDir } from '../support/layer-trees.js';
import { componentBytes } from './support.js';

type Fn = (...args: unknown[]) => unknown;
type Descriptor = Record<string, Fn>;

let sandbox: Sandbox;
let ctx: ComponentContext;
let imports: Record<string, Record<string, unknown>>;
let root: Descriptor;

beforeAll(async () => {
  expect(existsSync('/etc/passwd')).toBe(true);
  const host = tempDir('strata-escape-bind-');
  writeFileSync(join(host, 'inside'), 'in the bind');
  symlinkSync('/etc/passwd', join(host, 'passwd-abs'));
  symlinkSync('../../../../../../../../etc/passwd', join(host, 'passwd-climb'));
  symlinkSync('/etc', join(host, 'etc-abs'));
  sandbox = await Sandbox.create({ root: 'tmpfs', dev: false, mounts: [{ type: 'bind', source: host, target: '/bind' }] });
  sandbox.mkdir('/data');
  sandbox.writeFile('/data/f', 'data');
  sandbox.namespace.symlink('/etc/passwd', sandbox.namespace.root, 'data/abs-link');
  sandbox.namespace.symlink('../../../../../etc/passwd', sandbox.namespace.root, 'data/climb-link');
  sandbox.namespace.symlink('/bind/etc-abs', sandbox.namespace.root, 'data/via-bind');
  ctx = new ComponentContext({ namespace: sandbox.namespace, args: [], env: [], preopens: [{ path: '/data', dir: sandbox.namespace.resolve(sandbox.namespace.root, '/data', true, 'test') as never }] });
  imports = componentImports(ctx);
  const dirs = (imports['wasi:filesystem/preopens']!['getDirectories'] as Fn)() as [Descriptor, string][];
  expect(dirs.map(([, p]) => p)).toEqual(['/data']);
  root = dirs[0]![0];
});

const escapes = ['/etc/passwd', '/', '..', '../etc/passwd', 'a/../../etc/passwd', './..', 'f/../..', '//etc'];
const noFollow = {};
const follow = { symlinkFollow: true };
const ts = { tag: 'no-change' };

/** Every descriptor method that takes a path, called with `path` in each path position. */
const pathCalls: Record<string, (d: Descriptor, path: string) => unknown[]> = {
  statAt: (d, p) => [d['statAt']!(follow, p)],
  setTimesAt: (d, p) => [d['setTimesAt']!(follow, p, ts, ts)],
  linkAt: (d, p) => [d['linkAt']!(noFollow, p, d, 'new'), d['linkAt']!(noFollow, 'f', d, p)],
  openAt: (d, p) => [d['openAt']!(follow, p, {}, { read: true }), d['openAt']!(noFollow, p, { create: true }, { read: true, write: true })],
  readlinkAt: (d, p) => [d['readlinkAt']!(p)],
  removeDirectoryAt: (d, p) => [d['removeDirectoryAt']!(p)],
  renameAt: (d, p) => [d['renameAt']!(p, d, 'new'), d['renameAt']!('f', d, p)],
  symlinkAt: (d, p) => [d['symlinkAt']!('f', p), d['symlinkAt']!(p.startsWith('/') ? p : `/${p}`, 'new-link')],
  unlinkFileAt: (d, p) => [d['unlinkFileAt']!(p)],
  createDirectoryAt: (d, p) => [d['createDirectoryAt']!(p)],
  metadataHashAt: (d, p) => [d['metadataHashAt']!(follow, p)],
};

/**
 * How every other function is confined: it takes no path, or only a
 * descriptor or stream it was handed, or touches no file at all.
 */
const pathless: Record<string, readonly string[]> = {
  'wasi:cli/environment': ['getEnvironment', 'getArguments', 'initialCwd'],
  'wasi:cli/exit': ['exit', 'exitWithCode'],
  'wasi:cli/stdin': ['getStdin'],
  'wasi:cli/stdout': ['getStdout'],
  'wasi:cli/stderr': ['getStderr'],
  'wasi:cli/terminal-input': ['TerminalInput'],
  'wasi:cli/terminal-output': ['TerminalOutput'],
  'wasi:cli/terminal-stdin': ['getTerminalStdin'],
  'wasi:cli/terminal-stdout': ['getTerminalStdout'],
  'wasi:cli/terminal-stderr': ['getTerminalStderr'],
  'wasi:clocks/wall-clock': ['now', 'resolution'],
  'wasi:clocks/monotonic-clock': ['now', 'resolution', 'subscribeInstant', 'subscribeDuration'],
  'wasi:random/random': ['getRandomBytes', 'getRandomU64'],
  'wasi:random/insecure': ['getInsecureRandomBytes', 'getInsecureRandomU64'],
  'wasi:random/insecure-seed': ['insecureSeed'],
  'wasi:io/error': ['Error'],
  'wasi:io/poll': ['Pollable', 'poll'],
  'wasi:io/streams': ['InputStream', 'OutputStream'],
  'wasi:filesystem/types': ['Descriptor', 'DirectoryEntryStream', 'filesystemErrorCode'],
  'wasi:filesystem/preopens': ['getDirectories'],
};

/** Methods the host calls, never the glue (it calls only the WIT names, camelCased). */
const hostSide = ['constructor', 'onClose', 'rebase'];

const descriptorMethods = [
  ...Object.keys(pathCalls),
  'readViaStream', 'writeViaStream', 'appendViaStream', 'advise', 'syncData', 'sync', 'getFlags', 'getType', 'setSize',
  'setTimes', 'read', 'write', 'readDirectory', 'stat', 'isSameObject', 'metadataHash',
];

describe('a component cannot reach the host filesystem', () => {
  it('every interface and every descriptor method is in the tables above', () => {
    expect(Object.fromEntries(Object.entries(imports).map(([k, v]) => [k, Object.keys(v).sort()]))).toEqual(
      Object.fromEntries(Object.entries(pathless).map(([k, v]) => [k, [...v].sort()])),
    );
    const proto = Object.getPrototypeOf(root) as object;
    const methods = Object.getOwnPropertyNames(proto).filter((n) => !hostSide.includes(n) && typeof (root as Record<string, unknown>)[n] === 'function');
    expect(methods.sort()).toEqual([...descriptorMethods].sort());
  });

  for (const [method, call] of Object.entries(pathCalls)) {
    it(`${method}: an absolute path or a ".." above the descriptor is not-permitted`, () => {
      for (const path of escapes) {
        for (const r of call(root, path)) expect(r, `${method}(${path})`).toEqual({ tag: 'err', val: 'not-permitted' });
      }
    });
  }

  it('links in the tree that point out resolve inside the sandbox root (which has no /etc)', () => {
    for (const path of ['abs-link', 'climb-link', 'via-bind/passwd', 'via-bind']) {
      expect(root['openAt']!(follow, path, {}, { read: true }), path).toEqual({ tag: 'err', val: 'no-entry' });
      expect(root['statAt']!(follow, path), path).toEqual({ tag: 'err', val: 'no-entry' });
      expect(root['metadataHashAt']!(follow, path), path).toEqual({ tag: 'err', val: 'no-entry' });
    }
  });

  it("links inside a bind mount of a host directory stay inside the bind (as openat2's RESOLVE_IN_ROOT)", () => {
    const rootDir = new ComponentContext({ namespace: sandbox.namespace, args: [], env: [], preopens: [{ path: '/', dir: sandbox.namespace.root }] });
    const top = ((componentImports(rootDir)['wasi:filesystem/preopens']!['getDirectories'] as Fn)() as [Descriptor, string][])[0]![0];
    const inside = top!['openAt']!(follow, 'bind/inside', {}, { read: true }) as { tag: string; val: Descriptor };
    expect(inside.tag).toBe('ok');
    for (const path of ['bind/passwd-abs', 'bind/passwd-climb', 'bind/etc-abs/passwd']) {
      expect(top!['openAt']!(follow, path, {}, { read: true }), path).toEqual({ tag: 'err', val: 'no-entry' });
      expect(top!['statAt']!(follow, path), path).toEqual({ tag: 'err', val: 'no-entry' });
    }
    // readlink gives the link's text, which names the host path but opens nothing.
    expect(top!['readlinkAt']!('bind/passwd-abs')).toEqual({ tag: 'ok', val: '/etc/passwd' });
    // A read through the descriptor of a bind file reads the bind's file, never the host's /etc/passwd.
    const [bytes] = ((inside.val['read']!(100n, 0n) as { val: [Uint8Array, boolean] }).val);
    expect(Buffer.from(bytes).toString()).toBe('in the bind');
  });

  it('a component cannot create an absolute symlink, and a climbing one still resolves inside the root', () => {
    expect(root['symlinkAt']!('/etc/passwd', 'mine')).toEqual({ tag: 'err', val: 'not-permitted' });
    expect(root['symlinkAt']!('../../../../etc/passwd', 'mine')).toEqual({ tag: 'ok', val: undefined });
    expect(root['openAt']!(follow, 'mine', {}, { read: true })).toEqual({ tag: 'err', val: 'no-entry' });
  });

  it('metadata-hash carries the VFS identity (device, inode), nothing of the host', () => {
    const stat = sandbox.namespace.stat(sandbox.namespace.root, '/data/f', true);
    expect(root['metadataHashAt']!(noFollow, 'f')).toEqual({ tag: 'ok', val: { lower: stat.ino, upper: stat.dev } });
  });
});

describe('the transpiled glue imports nothing', () => {
  it('for every committed component guest: no preview2-shim, no node:*, no import or require', async () => {
    for (const guest of ['hello', 'fs-files', 'poll-sleep', 'random', 'clocks']) {
      const files = await transpileComponent(componentBytes(guest), guest);
      expect(files.js).not.toMatch(/preview2-shim|['"]node:|\bimport\s*\(|^\s*import\s|\brequire\s*\(/m);
      expect(files.imports.every((i) => i.startsWith('wasi:'))).toBe(true);
    }
  });

  it('the loader refuses a glue that imports a module, so no jco output can reach node:fs', async () => {
    const files = await transpileComponent(componentBytes('hello'), 'hello');
    for (const bad of ["const fs = await import('node:fs');", "import { readFileSync } from 'fs';", "const fs = require('fs');", "import '@bytecodealliance/preview2-shim/filesystem';"]) {
      const tampered = { ...files, js: `${bad}\n${files.js}` };
      await expect(loadComponent('sha256:test', tampered, (b) => WebAssembly.compile(b))).rejects.toMatchObject({ code: 'ERR_COMPONENT_TRANSPILE' });
    }
  });

  it("jco's transpiler itself (a wasm component on jco's preview2 shim) is given no preopen, environment or argv", async () => {
    await transpileComponent(componentBytes('hello'), 'hello');
    const fromTranspiler = createRequire(createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile'));
    const shim = (await import(pathToFileURL(fromTranspiler.resolve('@bytecodealliance/preview2-shim/filesystem')).href)) as { _getPreopens(): unknown[]; preopens: { getDirectories(): unknown[] } };
    expect(shim._getPreopens()).toEqual([]);
    expect(shim.preopens.getDirectories()).toEqual([]);
    // Nor the host's environment, argv or cwd.
    const cli = (await import(pathToFileURL(fromTranspiler.resolve('@bytecodealliance/preview2-shim/cli')).href)) as { environment: { getEnvironment(): unknown[]; getArguments(): unknown[]; initialCwd(): unknown } };
    expect(cli.environment.getEnvironment()).toEqual([]);
    expect(cli.environment.getArguments()).toEqual([]);
    expect(cli.environment.initialCwd()).toBe('/');
  });

  it('the glue sees neither process nor the real globalThis', async () => {
    const files = await transpileComponent(componentBytes('hello'), 'hello');
    const probe = { ...files, js: files.js.replace('export function instantiate(', 'throw new Error(JSON.stringify([typeof process, typeof globalThis.process, Object.keys(globalThis)]));\nexport function instantiate(') };
    const seen = await loadComponent('sha256:probe', probe, (b) => WebAssembly.compile(b)).catch((e: Error) => e.message);
    expect(JSON.parse(seen as string)).toEqual(['undefined', 'undefined', ['WebAssembly']]);
  });
});

