#!/usr/bin/env node
// Bundle the CLI (dist/cli/main.js and the modules it reaches) into one
// CommonJS file, dist/cli/strata.bundle.cjs, which bin/strata.js compiles
// through a V8 code cache (bin/compile-cache.js). Node then reads and
// compiles one file instead of ~140 modules, without its ES module loader,
// and from the second run on deserializes the code V8 compiled before
// instead of compiling it again: that is most of `strata run`'s own start
// (docs/benchmarks.md, "CLI start"). The CLI's dynamic imports stay lazy:
// esbuild turns each into a module initialized on first use, so a command
// runs only its own modules' top-level code.
// Packages under node_modules stay external (loaded as usual).
// Run after `tsc -p tsconfig.build.json` (npm run build and npm test do).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/cli/strata.bundle.cjs`;
// The split ES module bundle that an older build made here.
rmSync(`${root}dist/cli/bundle`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  // Code that finds files beside itself reads import.meta.url: here it is
  // the bundle's URL (dist/cli/, as for dist/cli/main.js).
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  // No import() may be left in the bundle: V8 (before 12.4, so Node 20)
  // drops a script's host-defined options when it serializes its code
  // cache, and every import() in a script compiled from that cache then
  // fails with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING. The CLI's own
  // dynamic imports become modules initialized on first use; those of a
  // package go to `__hostImport` (a parameter bin/compile-cache.js passes,
  // an import() in a module of its own): a literal one through the plugin
  // below, and one of a computed specifier, lowered to require(), through
  // the require that bin/compile-cache.js passes (a file: URL it imports).
  supported: { 'dynamic-import': false },
  plugins: [
    {
      name: 'host-import',
      setup(build) {
        build.onResolve({ filter: /^[^./]/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'host-import' } : undefined));
        // A module whose namespace is a thenable: awaiting the lowered import() adopts the package's namespace.
        build.onLoad({ filter: /.*/, namespace: 'host-import' }, (args) => ({
          contents: `export function then(resolve, reject) { return __hostImport(${JSON.stringify(args.path)}).then(resolve, reject); }`,
          loader: 'js',
        }));
      },
    },
  ],
  // Whitespace and comments out (0.92 → 0.63 MB: less to read, decode and
  // hand V8), names kept: a stack trace (STRATA_DEBUG=1) still names its
  // functions. Not minifySyntax (19 KB more) nor mangled names.
  minifyWhitespace: true,
  logLevel: 'warning',
});
// esbuild escapes non-ASCII characters in code but not in comments; an
// all-ASCII file becomes a one-byte string in V8, read faster.
// eslint-disable-next-line no-control-regex
const text = readFileSync(outfile, 'utf8').replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
// The code goes in the function the loader runs it in, written here so
// that the loader compiles the file's text as it is; the first line states
// the sha256 of the rest, the key of the code cache (with the file's size
// and time), so the loader hashes nothing at start.
const { digestLine, wrapperHead, wrapperTail } = createRequire(import.meta.url)('../bin/compile-cache.js');
const wrapped = `${wrapperHead}${text}${wrapperTail}`;
writeFileSync(outfile, `${digestLine}${createHash('sha256').update(wrapped).digest('hex')}\n${wrapped}`);
