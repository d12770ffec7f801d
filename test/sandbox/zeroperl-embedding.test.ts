/**
 * zeroperl (`@6over3/zeroperl-ts`'s `zeroperl.wasm`): Perl 5 as a WASI
 * reactor that imports `env.call_host_function`, the case extra imports
 * exist for. Its own wrapper brings its own WASI and takes no WASI
 * object, so the module is driven here through `sandbox.instantiate` and
 * its C API exports (`zeroperl_init`, `zeroperl_eval`…). Its host calls
 * return at once (no asyncify unwinding), so they run synchronously.
 * It opens `/dev/null` at init, so it is given the sandbox root as `/`
 * (the default preopen), whose `/dev` is strata's.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, Sandbox, compileGuest, type GuestModule } from '../../src/index.js';
import { text } from '../support/guests.js';

type PerlExports = {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  zeroperl_init(): number;
  zeroperl_eval(code: number, context: number, argc: number, argv: number): number;
  zeroperl_register_function(id: number, name: number): void;
  zeroperl_new_int(value: number): number;
  zeroperl_to_int(value: number, out: number): number;
  zeroperl_flush(): number;
};

let perl: GuestModule;

beforeAll(async () => {
  const path = createRequire(import.meta.url).resolve('@6over3/zeroperl-ts/zeroperl.wasm');
  perl = await compileGuest(readFileSync(path), { imports: { env: ['call_host_function'] }, reactor: true });
});

/** A NUL-terminated string in the guest's memory. */
function cString(e: PerlExports, s: string): number {
  const bytes = new TextEncoder().encode(`${s}\0`);
  const at = e.malloc(bytes.length);
  new Uint8Array(e.memory.buffer).set(bytes, at);
  return at;
}

describe('zeroperl through sandbox.instantiate()', () => {
  it('is a reactor importing env.call_host_function, refused without it and listed by name', async () => {
    expect(perl.kind).toBe('reactor');
    expect(perl.imports).toEqual({ env: ['call_host_function'] });
    const sandbox = await Sandbox.create();
    await expect(sandbox.instantiate(perl)).rejects.toMatchObject({ code: ErrorCode.unknownImport, message: /function 'env\.call_host_function'/ });
  });

  it('evaluates Perl that reads a sandbox file and calls back into the host', async () => {
    const sandbox = await Sandbox.create();
    await sandbox.fs.mkdir('/data');
    await sandbox.fs.writeFile('/data/in.txt', 'from the sandbox\n');
    const out: string[] = [];
    const hostCalls: { id: number; argc: number; first: number }[] = [];
    let e: PerlExports | undefined;
    const call_host_function = (id: number, argc: number, argv: number): number => {
      const cell = e!.malloc(4);
      e!.zeroperl_to_int(new DataView(e!.memory.buffer).getUint32(argv, true), cell);
      const first = new DataView(e!.memory.buffer).getInt32(cell, true);
      hostCalls.push({ id, argc, first });
      return e!.zeroperl_new_int(first * 2);
    };
    const { exports, wasi } = await sandbox.instantiate(perl, {
      imports: { env: { call_host_function } },
      stdout: (c) => out.push(text(c)),
    });
    e = exports as unknown as PerlExports;
    expect(e.zeroperl_init()).toBe(0);
    e.zeroperl_register_function(7, cString(e, 'double_it'));
    const script = [
      'open(my $in, "<", "/data/in.txt") or die "open: $!";',
      'my $line = <$in>; print uc($line);',
      'print "host says ", double_it(21), "\\n";',
      'open(my $out, ">", "/data/out.txt") or die "write: $!"; print $out "written by perl\\n"; close($out);',
    ].join(' ');
    expect(e.zeroperl_eval(cString(e, script), 1, 0, 0)).toBe(0);
    e.zeroperl_flush();
    expect(out.join('')).toBe('FROM THE SANDBOX\nhost says 42\n');
    expect(hostCalls).toEqual([{ id: 7, argc: 1, first: 21 }]);
    expect(await sandbox.fs.readFile('/data/out.txt', 'utf8')).toBe('written by perl\n');
    wasi.close();
  });
});
