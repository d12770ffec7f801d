/**
 * Components through the Sandbox API: chosen from the binary, images whose
 * layer is a component, the transpile cache in the store, limits, typed
 * errors, and the bounds that keep a component from making the host
 * allocate without end.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ComponentContext, componentDigest, componentImports, componentLayerMediaType, isComponent, runComponent, toErrorCode } from '../../src/component/index.js';
import { Errno, FsError } from '../../src/vfs/index.js';
import { GuestError, Sandbox } from '../../src/index.js';
import { MediaType } from '../../src/oci/manifest.js';
import { ImageStore } from '../../src/oci/image-store.js';
import { blobTranspileCache } from '../../src/sandbox/component-run.js';
import { codeOf } from '../support/error-code.js';
import { guestBytes, text } from '../support/guests.js';
import { Layout } from '../support/image-layout.js';
import { tempDir } from '../support/layer-trees.js';
import { componentBytes, componentPath } from './support.js';

let store: ImageStore;
beforeAll(async () => {
  store = await ImageStore.open(tempDir('strata-component-run-'));
});

type Fn = (...args: unknown[]) => unknown;

describe('choosing preview1 or preview2 from the binary', () => {
  it('tells a component from a core module by its layer field', () => {
    expect(isComponent(componentBytes('hello'))).toBe(true);
    expect(isComponent(guestBytes('hello'))).toBe(false);
    expect(isComponent(new Uint8Array([0, 0x61, 0x73, 0x6d]))).toBe(false);
  });

  it('runs a component file, bytes or path, with args, env, stdin', async () => {
    const sandbox = await Sandbox.create({ store });
    expect(text((await sandbox.run(componentPath('hello'), { args: ['component'] })).stdout)).toBe('hello, component\n');
    expect(text((await sandbox.run(componentBytes('cat'), { stdin: 'piped' })).stdout)).toBe('piped');
  });

  it('runs a component found in the sandbox by exec, as a preview1 program is', async () => {
    const sandbox = await Sandbox.create({ store });
    sandbox.mkdir('/bin');
    sandbox.writeFile('/bin/fsbox', componentBytes('fsbox'));
    sandbox.writeFile('/motd', 'from the root');
    const r = await sandbox.exec(['fsbox', 'cat', '/motd'], { env: { PATH: '/bin' } });
    expect(text(r.stdout)).toBe('from the root');
  });

  it(`runs an image whose layer is a component (${componentLayerMediaType})`, async () => {
    const dir = tempDir('strata-component-artifact-');
    const layout = new Layout(dir);
    const layer = layout.blob(componentBytes('hello'), componentLayerMediaType, { annotations: { 'org.opencontainers.image.title': 'hello.wasm' } });
    const config = layout.json({ created: '2024-01-02T03:04:05Z', architecture: 'wasm', os: 'wasip2', layerDigests: [layer.digest] }, MediaType.wasmConfig);
    layout.tag(layout.json({ schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: MediaType.wasmConfig, config, layers: [layer] }, MediaType.ociManifest), 'latest');
    const sandbox = await Sandbox.create({ image: `oci:${dir}`, store });
    expect(text((await sandbox.exec()).stdout)).toBe('hello, world\n');
    expect(text((await sandbox.exec(['/hello.wasm', 'layer'])).stdout)).toBe('hello, layer\n');
  });

  it('runs a component .wasm file of an ordinary image layer', async () => {
    const dir = tempDir('strata-component-image-');
    const layout = new Layout(dir);
    layout.tag(await layout.image([{ 'bin/hello': componentBytes('hello') }], { os: 'wasip2', architecture: 'wasm' }), 'latest');
    const sandbox = await Sandbox.create({ image: `oci:${dir}`, store, root: 'readonly' });
    expect(text((await sandbox.exec(['/bin/hello', 'image'])).stdout)).toBe('hello, image\n');
  });
});

describe('the transpile cache', () => {
  it('keeps the transpiled files in the blob store by the component digest, verified when read', async () => {
    const root = tempDir('strata-component-cache-');
    const sandbox = await Sandbox.create({ store: await ImageStore.open(root) });
    const bytes = componentBytes('random');
    await sandbox.run(bytes);
    const cache = blobTranspileCache(root);
    const files = await cache.get(componentDigest(bytes));
    expect(files?.js).toContain('function instantiate(');
    expect(Object.keys(files?.cores ?? {}).length).toBeGreaterThan(1);
    // A corrupt blob is a miss, never loaded.
    const record = JSON.parse(readFileSync(`${root}/components/${componentDigest(bytes).slice(7)}.json`, 'utf8')) as { js: string };
    writeFileSync(`${root}/blobs/sha256/${record.js.slice(7)}`, 'function instantiate() { /* tampered */ }');
    expect(await cache.get(componentDigest(bytes))).toBeUndefined();
  });
});

describe('limits and errors, as for a preview1 command', () => {
  it('a timeout stops a spinning component (ERR_TIMEOUT)', async () => {
    const sandbox = await Sandbox.create({ store });
    expect(await codeOf(() => sandbox.run(componentBytes('spin'), { timeoutMs: 200 }))).toBe('ERR_TIMEOUT');
  });

  it('collected output is capped (ERR_OUTPUT_LIMIT, with the output so far)', async () => {
    const sandbox = await Sandbox.create({ store });
    const error = await sandbox.run(componentBytes('flood'), { args: ['4'], maxOutputBytes: 100_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuestError);
    expect((error as GuestError).code).toBe('ERR_OUTPUT_LIMIT');
    expect((error as GuestError).stdout.length).toBe(100_000);
  });

  it('the memory limit holds for the component’s core modules (memory.grow fails inside the guest)', async () => {
    const sandbox = await Sandbox.create({ store });
    const p1 = await sandbox.run(guestBytes('mem-bomb'), { memoryLimitBytes: 16 << 20 });
    const p2 = await sandbox.run(componentBytes('mem-bomb'), { memoryLimitBytes: 16 << 20 });
    expect(text(p2.stdout)).toBe(text(p1.stdout));
    expect(p2.exitCode).toBe(p1.exitCode);
  });

  it('a trap is ERR_GUEST_TRAP and the sandbox stays usable', async () => {
    const sandbox = await Sandbox.create({ store });
    expect(await codeOf(() => sandbox.run(componentBytes('trap')))).toBe('ERR_GUEST_TRAP');
    expect((await sandbox.run(componentBytes('hello'))).exitCode).toBe(0);
  });

  it('trace (preview1 strace) is refused for a component, never silently ignored (ERR_INVALID_OPTION)', async () => {
    const sandbox = await Sandbox.create({ store });
    expect(await codeOf(() => sandbox.run(componentBytes('hello'), { trace: () => {} }))).toBe('ERR_INVALID_OPTION');
  });

  it('an import strata does not serve is ERR_UNKNOWN_IMPORT, naming it', async () => {
    const sandbox = await Sandbox.create();
    const fake = { digest: 'sha256:x', imports: ['wasi:cli/stdout', 'wasi:sockets/tcp', 'wasi:http/outgoing-handler'], instantiate: () => ({ run() {} }) };
    const error = (() => { try { runComponent(fake, { namespace: sandbox.namespace, args: [], env: [], preopens: [] }); } catch (e) { return e; } return undefined; })();
    expect(error).toMatchObject({ code: 'ERR_UNKNOWN_IMPORT' });
    expect((error as Error).message).toContain('wasi:sockets/tcp, wasi:http/outgoing-handler');
  });
});

describe('the host', () => {
  it('maps every FsError errno to a WIT error-code in one place; an unknown one is io, a host bug none', () => {
    for (const errno of Object.keys(Errno)) expect(toErrorCode(new FsError(errno as never, 'test')), errno).toMatch(/^[a-z-]+$/);
    expect(toErrorCode(new FsError('ENOENT', 'open'))).toBe('no-entry');
    expect(toErrorCode(new FsError('EROFS', 'open'))).toBe('read-only');
    expect(toErrorCode(new FsError('EPERM', 'open'))).toBe('not-permitted');
    expect(toErrorCode(new TypeError('bug'))).toBeUndefined();
  });

  it('workdir is initial-cwd: a component written for preview2 opens a relative path from it (preview1 cannot)', async () => {
    const sandbox = await Sandbox.create({ store });
    sandbox.mkdir('/data/sub', { recursive: true });
    sandbox.writeFile('/data/sub/note.txt', 'found relative to the cwd\n');
    sandbox.writeFile('/note.txt', 'at the root\n');
    const probe = componentBytes('cwd-probe');
    expect(text((await sandbox.run(probe, { workdir: '/data/sub' })).stdout)).toBe('cwd=/data/sub\nfound relative to the cwd\n');
    expect(text((await sandbox.run(probe, { workdir: '/' })).stdout)).toBe('cwd=/\nat the root\n');
    expect(text((await sandbox.run(probe)).stdout)).toBe('no initial-cwd\n');
    const missing = await sandbox.run(probe, { workdir: '/data' });
    expect({ code: missing.exitCode, out: text(missing.stdout) }).toEqual({ code: 1, out: 'cwd=/data\nopen: error 20\n' }); // 20: no-entry
  });

  it('poll takes 1 to 65536 pollables (past either, the process ends) and waits for the earliest, never past the deadline', async () => {
    const sandbox = await Sandbox.create();
    const make = (deadline?: number) => {
      const ctx = new ComponentContext({ namespace: sandbox.namespace, args: [], env: [], preopens: [], deadline });
      const imports = componentImports(ctx);
      return { ctx, poll: imports['wasi:io/poll']!['poll'] as Fn, after: imports['wasi:clocks/monotonic-clock']!['subscribeDuration'] as Fn };
    };
    const empty = make();
    expect(() => empty.poll([])).toThrow(RangeError);
    expect(empty.ctx.end.ended).toBe(true);
    const { poll, after } = make();
    const started = performance.now();
    expect(Array.from(poll([after(200_000_000n), after(20_000_000n)]) as Uint32Array)).toEqual([1]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
    expect(performance.now() - started).toBeLessThan(150);
    const late = make(performance.now() + 30);
    expect(() => late.poll([late.after(10_000_000_000n)])).toThrow(/deadline/);
  });

  it('initial-cwd carries the working directory (preview1 has none)', async () => {
    const sandbox = await Sandbox.create();
    const env = (cwd?: string) => componentImports(new ComponentContext({ namespace: sandbox.namespace, args: [], env: [], preopens: [], cwd }))['wasi:cli/environment']!;
    expect((env('/work')['initialCwd'] as Fn)()).toBe('/work');
    expect((env()['initialCwd'] as Fn)()).toBeUndefined();
  });

  it('bounds what a guest can make it allocate: reads, random bytes, poll lists, resources', async () => {
    const sandbox = await Sandbox.create();
    sandbox.writeFile('/big', new Uint8Array(3 << 20));
    const ctx = new ComponentContext({ namespace: sandbox.namespace, args: [], env: [], preopens: [{ path: '/', dir: sandbox.namespace.root }], maxResources: 50 });
    const imports = componentImports(ctx);
    const root = ((imports['wasi:filesystem/preopens']!['getDirectories'] as Fn)() as [Record<string, Fn>, string][])[0]![0];
    const file = (root!['openAt']!({}, 'big', {}, { read: true }) as { val: Record<string, Fn> }).val;
    expect(((file['read']!(1n << 40n, 0n) as { val: [Uint8Array] }).val[0]).length).toBe(1 << 20);
    const stream = (file['readViaStream']!(0n) as { val: Record<string, Fn> }).val;
    expect((stream['read']!(1n << 40n) as { val: Uint8Array }).val.length).toBe(1 << 20);
    // Past the resource bound, opening fails with an error-code; nothing grows.
    const results = Array.from({ length: 60 }, () => root!['openAt']!({}, 'big', {}, { read: true }) as { tag: string; val: unknown });
    expect(results.filter((r) => r.tag === 'err').map((r) => r.val)).toContain('insufficient-memory');
    expect(ctx.resources).toBe(50);
    // A random request past the cap ends the process: a trap, never an allocation.
    expect(() => (imports['wasi:random/random']!['getRandomBytes'] as Fn)(1n << 40n)).toThrow();
    expect(ctx.end.ended).toBe(true);
    // Once ended, every call ends it again.
    expect(() => (imports['wasi:clocks/monotonic-clock']!['now'] as Fn)()).toThrow();
    ctx.closeAll();
    expect(ctx.resources).toBe(0);
  });
});
