/**
 * The host as a whole: the 46 functions and their grouping, the one place
 * errors become errno values (a host bug must throw, never become an errno),
 * and independence of two hosts.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FsError, Namespace, type DirNode, type Errno } from '../../src/vfs/index.js';
import { argsSyscalls } from '../../src/wasi/args.js';
import { clockSyscalls } from '../../src/wasi/clock.js';
import { fdSyscalls } from '../../src/wasi/fd.js';
import { WasiHost, wasiFunctionNames } from '../../src/wasi/index.js';
import { pathSyscalls } from '../../src/wasi/path.js';
import { pollSyscalls } from '../../src/wasi/poll.js';
import { procSyscalls } from '../../src/wasi/proc.js';
import { randomSyscalls } from '../../src/wasi/random.js';
import { sockSyscalls } from '../../src/wasi/sock.js';
import { badFd, errnoName, Fixture, groups, OFlags, out, R, rootFd, type Group, type WasiName } from './harness.js';

describe('the 46 functions', () => {
  const grouped = Object.values(groups).flat() as WasiName[];

  it('wasiFunctionNames lists 46, and the groups partition them', () => {
    expect(wasiFunctionNames.length).toBe(46);
    expect([...grouped].sort()).toEqual([...wasiFunctionNames]);
    expect(new Set(grouped).size).toBe(46);
  });

  it('every import is a function, and there are no others', () => {
    const imports = new Fixture().host.imports.wasi_snapshot_preview1;
    expect(Object.keys(imports).sort()).toEqual([...wasiFunctionNames]);
    for (const name of wasiFunctionNames) expect(typeof imports[name]).toBe('function');
  });

  it('`only` provides just the named functions (the ones a module imports), each working, and ignores names it lacks', () => {
    const ns = new Namespace(new Fixture().fs.root);
    const host = new WasiHost({ namespace: ns, args: ['a', 'bc'], env: [], preopens: [], only: ['args_sizes_get', 'fd_close', 'no_such_call'] });
    const imports = host.imports.wasi_snapshot_preview1;
    expect(Object.keys(imports).sort()).toEqual(['args_sizes_get', 'fd_close']);
    const memory = new WebAssembly.Memory({ initial: 1 });
    host.bindMemory(memory);
    expect((imports['args_sizes_get'] as (a: number, b: number) => number)(0, 4)).toBe(0);
    expect([...new Uint32Array(memory.buffer, 0, 2)]).toEqual([2, 5]);
    expect(errnoName((imports['fd_close'] as (fd: number) => number)(badFd))).toBe('EBADF');
    expect(Object.keys(new WasiHost({ namespace: ns, args: [], env: [], preopens: [], only: [] }).imports.wasi_snapshot_preview1)).toEqual([]);
  });

  const sources: Record<Group, (ctx: Fixture['host']['context']) => object> = {
    args: argsSyscalls,
    clock: clockSyscalls,
    fd: fdSyscalls,
    path: pathSyscalls,
    poll: pollSyscalls,
    proc: procSyscalls,
    random: randomSyscalls,
    sock: sockSyscalls,
  };
  it.each(Object.keys(groups) as Group[])('group %s: the same functions as its source file, and a test file of its own', (group) => {
    const ctx = new Fixture().host.context;
    expect(Object.keys(sources[group](ctx)).sort()).toEqual([...groups[group]].sort());
    expect(existsSync(new URL(`./${group}.test.ts`, import.meta.url))).toBe(true);
  });
});

/** A namespace whose mkdir fails the way a host bug does, or with an FsError of `errno`. */
function faulty(thrown: () => Error) {
  return (root: DirNode) =>
    new (class extends Namespace {
      override mkdir(): DirNode {
        throw thrown();
      }
    })(root);
}

describe('errors: one place, and host bugs are never errnos', () => {
  const hostBugs: [string, () => Error][] = [
    ['a TypeError', () => new TypeError('cannot read properties of undefined')],
    ['a RangeError', () => new RangeError('offset out of bounds')],
    ['a plain Error', () => new Error('invariant broken')],
  ];

  it.each(hostBugs)('%s thrown inside a call propagates from the import', (_name, thrown) => {
    const f = new Fixture({ empty: true, namespace: faulty(thrown) });
    const error = thrown();
    expect(() => f.w.path_create_directory(rootFd, ...f.str('new'))).toThrow(error.constructor as new () => Error);
  });

  it.each(hostBugs)('%s propagates with tracing on too, and the trace says HOST BUG', (_name, thrown) => {
    const lines: string[] = [];
    const f = new Fixture({ empty: true, namespace: faulty(thrown), trace: (line) => lines.push(line) });
    expect(() => f.w.path_create_directory(rootFd, ...f.str('new'))).toThrow();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^path_create_directory\(fd=3, path="new"\) = HOST BUG /);
  });

  it('a stdout sink that throws propagates from fd_write', () => {
    const f = new Fixture();
    const sink = f.host.context.fds.get(1);
    sink.write = () => {
      throw new TypeError('sink broke');
    };
    expect(() => f.w.fd_write(1, ...f.ciovs('x'), out)).toThrow(TypeError);
  });

  it('an FsError whose errno WASI lacks becomes EIO', () => {
    const f = new Fixture({ empty: true, namespace: faulty(() => new FsError('EWHATEVER' as Errno, 'mkdir', 'new')) });
    expect(errnoName(f.w.path_create_directory(rootFd, ...f.str('new')))).toBe('EIO');
  });

  it.each(['EROFS', 'EXDEV', 'EMLINK', 'EBUSY', 'EPERM', 'EACCES'] as const)('an FsError %s becomes the WASI errno of that name', (errno) => {
    const f = new Fixture({ empty: true, namespace: faulty(() => new FsError(errno, 'mkdir', 'new')) });
    expect(errnoName(f.w.path_create_directory(rootFd, ...f.str('new')))).toBe(errno);
  });

  it('a trace prints each call with its decoded path and errno name', () => {
    const lines: string[] = [];
    const f = new Fixture({ trace: (line) => lines.push(line) });
    f.w.path_create_directory(rootFd, ...f.str('dir'));
    f.w.fd_close(badFd);
    expect(lines).toEqual(['path_create_directory(fd=3, path="dir") = 20 EEXIST', 'fd_close(fd=99) = 8 EBADF']);
  });
});

describe('two hosts share no state', () => {
  it('fd numbers are allocated and closed independently', () => {
    const a = new Fixture();
    const b = new Fixture();
    const fa = a.open('file.txt');
    const fb = b.open('full/a.txt');
    expect([fa, fb]).toEqual([4, 4]);
    expect(a.w.fd_close(fa)).toBe(0);
    expect(b.read(fb)).toBe('A');
    expect(errnoName(a.w.fd_close(fa))).toBe('EBADF');
    expect(a.open('dir', { oflags: OFlags.DIRECTORY })).toBe(4);
    expect(b.open('file.txt')).toBe(5);
  });

  it('inode numbers come from each filesystem’s own counter', () => {
    const a = new Fixture();
    const b = new Fixture();
    a.open('only-in-a', { oflags: OFlags.CREAT });
    a.open('also-in-a', { oflags: OFlags.CREAT });
    b.open('only-in-b', { oflags: OFlags.CREAT });
    expect(b.ino('only-in-b')).toBe(a.ino('only-in-a'));
    expect(b.node('only-in-a')).toBeUndefined();
    expect(a.node('only-in-b')).toBeUndefined();
  });

  it('rights dropped in one host leave the other’s intact', () => {
    const a = new Fixture();
    const b = new Fixture();
    a.dropRights(rootFd, R.PATH_OPEN);
    expect(errnoName(a.openAt('file.txt'))).toBe('ENOTCAPABLE');
    expect(errnoName(b.openAt('file.txt'))).toBe('SUCCESS');
  });
});
