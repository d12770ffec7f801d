/**
 * Ruby (`@ruby/3.4-wasm-wasi`, through `@ruby/wasm-wasi`'s RubyVM) running
 * on `sandbox.wasi()`, with its stdlib read from the sandbox and no host
 * directory preopened.
 *
 * The package ships two VMs, both with wasi-vfs, which answers the paths
 * packed into the binary itself, never asking WASI: `ruby+stdlib.wasm`
 * packs the stdlib under `/usr/local/lib/ruby`; `ruby.wasm` packs only a
 * skeleton `/usr` and `/bundle` (the `js` gem), with no stdlib. So the
 * stdlib is taken out once by Ruby itself: `ruby+stdlib.wasm` copies its
 * packed tree into the sandbox (through the facade, the sandbox root
 * preopened as `/out`). Then `ruby.wasm` runs with the sandbox root as `/`
 * and the sandbox's stdlib directory preopened under its own name,
 * `/usr/local/lib/ruby`: wasi-libc sends a path to the preopen with the
 * longest matching name, so that one wins over wasi-vfs's `/usr`, and
 * every stdlib file Ruby loads is a WASI call into the sandbox.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { RubyVM } from '@ruby/wasm-wasi';
import { beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, compileGuest, type GuestModule, type SandboxWasi } from '../../src/index.js';
import { text } from '../support/guests.js';

const dist = dirname(createRequire(import.meta.url).resolve('@ruby/3.4-wasm-wasi/dist/ruby.wasm'));
/** The imports ruby.wasm has beyond preview1: RubyVM's JS bridge. */
const rubyImports = { 'rb-js-abi-host': '*', canonical_abi: '*' } as const;
const stdlibDir = '/usr/local/lib/ruby';
/** What ruby.wasm is handed: sandbox directories only, none of the host's. */
const rubyPreopens = [{ dir: '/', as: '/' }, { dir: stdlibDir, as: stdlibDir }];

let ruby: GuestModule;
let sandbox: Sandbox;

/** A RubyVM over a facade of `sandbox`; its stdout and stderr are collected. */
async function rubyVm(module: GuestModule, options: Parameters<Sandbox['wasi']>[0] = {}): Promise<{ vm: RubyVM; wasi: SandboxWasi; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const wasi = sandbox.wasi({ args: ['ruby'], env: { HOME: '/root' }, preopens: rubyPreopens, stdout: (c) => out.push(text(c)), stderr: (c) => err.push(text(c)), ...options });
  const { vm } = await RubyVM.instantiateModule({ module: module.module, wasip1: wasi });
  return { vm, wasi, out, err };
}

beforeAll(async () => {
  sandbox = await Sandbox.create();
  // Each module is compiled once for the file, with strata's limits.
  const [packed, bare] = await Promise.all([
    compileGuest(readFileSync(join(dist, 'ruby+stdlib.wasm')), { imports: rubyImports, reactor: true }),
    compileGuest(readFileSync(join(dist, 'ruby.wasm')), { imports: rubyImports, reactor: true }),
  ]);
  ruby = bare;
  const { vm, wasi } = await rubyVm(packed, { preopens: { '/out': '/' } });
  const copied = vm.eval(`
    require 'fileutils'
    n = 0
    Dir.glob('${stdlibDir}/**/*', File::FNM_DOTMATCH).sort.each do |path|
      next if File.basename(path) == '.' || File.basename(path) == '..'
      target = '/out' + path
      if File.directory?(path)
        FileUtils.mkdir_p(target)
      else
        FileUtils.mkdir_p(File.dirname(target))
        File.binwrite(target, File.binread(path))
        n += 1
      end
    end
    n
  `);
  wasi.close();
  expect(Number(copied.toString())).toBeGreaterThan(500);
}, 120_000);

describe('Ruby through sandbox.wasi()', () => {
  it('packs its stdlib into ruby+stdlib.wasm only; ruby.wasm imports RubyVM\'s bridge and is a reactor', () => {
    expect(ruby.kind).toBe('reactor');
    const modules = new Set(WebAssembly.Module.imports(ruby.module).map((i) => i.module));
    expect([...modules].sort()).toEqual(['canonical_abi', 'rb-js-abi-host', 'wasi_snapshot_preview1']);
  });

  it('runs puts 1+1, loading its stdlib from the sandbox', async () => {
    const trace: string[] = [];
    const { vm, wasi, out } = await rubyVm(ruby, { trace: (line) => trace.push(line) });
    vm.eval('puts 1+1; $stdout.flush');
    expect(out.join('')).toBe('2\n');
    // RubyGems and the encodings came from the sandbox's /usr/local/lib/ruby, through WASI.
    expect(trace).toContain('fd_prestat_dir_name(fd=4, path="/usr/local/lib/ruby") = 0');
    expect(trace.some((l) => l.startsWith('path_open(fd=4,') && l.includes('path="3.4.0/rubygems.rb"') && l.endsWith('= 0'))).toBe(true);
    expect(vm.eval('$LOADED_FEATURES.grep(%r{/rubygems\\.rb$}).first').toString()).toBe(`${stdlibDir}/3.4.0/rubygems.rb`);
    wasi.close();
  });

  it('runs a script file that reads a file, both in the sandbox, with no host directory preopened', async () => {
    await sandbox.fs.mkdir('/app', { recursive: true });
    await sandbox.fs.writeFile('/app/data.txt', 'alpha\nbeta\ngamma\n');
    await sandbox.fs.writeFile('/app/count.rb', [
      "require 'json'",
      "lines = File.readlines('/app/data.txt', chomp: true)",
      'puts JSON.generate({ lines: lines.size, last: lines.last.upcase })',
      "File.write('/app/result.txt', lines.reverse.join(','))",
    ].join('\n'));
    const { vm, wasi, out } = await rubyVm(ruby);
    vm.eval("load '/app/count.rb'; $stdout.flush");
    expect(out.join('')).toBe('{"lines":3,"last":"GAMMA"}\n');
    expect(await sandbox.fs.readFile('/app/result.txt', 'utf8')).toBe('gamma,beta,alpha');
    // json.rb is the sandbox's copy: a library written into the sandbox's stdlib loads too.
    await sandbox.fs.writeFile(`${stdlibDir}/3.4.0/strata_probe.rb`, 'STRATA_PROBE = :from_the_sandbox');
    expect(vm.eval("require 'strata_probe'; STRATA_PROBE").toString()).toBe('from_the_sandbox');
    wasi.close();
  });
});
