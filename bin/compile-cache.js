'use strict';
// Loading the CLI's CommonJS bundle through a V8 code cache, as Node 22's
// module.enableCompileCache() does for every module (Node 20 has none).
//
// The first run of a command compiles the bundle as usual and, when it
// exits with status 0, writes what V8 compiled (the functions that ran,
// not only the top level) to the cache directory; later runs hand it back
// to V8, which deserializes it instead of parsing and compiling. A run
// that fails (a bad flag, say) may have compiled little, so it writes
// nothing: the next run that succeeds does. See docs/decisions.md,
// "CLI start: a V8 code cache".
//
// Correctness:
// - The cache file is named by the sha256 of the bundle's bytes, so a
//   changed bundle never meets an old cache. (V8's own check compares only
//   the source's length, and a rebuild can keep it.) scripts/bundle-cli.mjs
//   writes that digest into the bundle's first line, so the loader need
//   not hash 0.9 MB (nor load node:crypto) on every start: it trusts the
//   line only together with the file's size and modification time, which
//   go into the name too, so a hand edit that keeps the line still misses.
//   A file without the line is hashed here.
// - The name also holds the Node version, the architecture and the flags
//   Node runs with: V8 rejects a cache made under other flags, and two
//   setups used in turn would otherwise overwrite each other's file.
// - A file V8 rejects anyway is ignored (the bundle compiles as usual) and
//   written again at exit.
// - Writes go to a temp file, are synced, then renamed into place: a
//   reader sees a whole file or none, and of concurrent writers of the
//   same file the last rename wins.
// - V8 runs the cached code as it finds it, so whoever can write the file
//   can run code as the user: a file is used only when it is the user's
//   own and nobody else may write it (on POSIX; files are made 0600).
// - Any error around the cache (no home, a read-only or full disk) leaves
//   the CLI running uncached; none is reported.
const { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const vm = require('node:vm');

/**
 * The directory of the code cache: `$STRATA_COMPILE_CACHE`, else
 * `compile-cache/` in strata's home (`$STRATA_HOME`, else
 * `$XDG_CACHE_HOME/strata`, else `~/.cache/strata`, as for the store);
 * undefined when `$STRATA_COMPILE_CACHE` is `off`.
 */
function cacheDirectory(env = process.env) {
  const dir = env.STRATA_COMPILE_CACHE;
  if (dir === 'off') return undefined;
  if (dir) return dir;
  const home = env.STRATA_HOME || join(env.XDG_CACHE_HOME || join(homeDirectory(), '.cache'), 'strata');
  return join(home, 'compile-cache');
}

/** os.homedir(), which on POSIX is $HOME when that is set: node:os then stays unloaded. */
function homeDirectory() {
  return (process.platform !== 'win32' && process.env.HOME) || require('node:os').homedir();
}

/**
 * What else V8's code depends on: the runtime and its flags, as 12 hex
 * digits (FNV-1a, 64 bits). A collision costs no correctness: V8 checks
 * its version and flags itself and rejects a cache made under others.
 */
function runtimeKey(env = process.env) {
  const runtime = [process.version, process.arch, process.execArgv.join(' '), env.NODE_OPTIONS ?? ''].join('\0');
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < runtime.length; i++) hash = BigInt.asUintN(64, (hash ^ BigInt(runtime.charCodeAt(i))) * 0x100000001b3n);
  return hash.toString(16).padStart(16, '0').slice(0, 12);
}

/** How scripts/bundle-cli.mjs begins the bundle: this, the sha256 (hex) of the bytes after the line, and a newline. */
const digestLine = '// strata-bundle sha256=';

/**
 * The function a bundle's code runs in, with CommonJS's parameters and
 * `__hostImport`. scripts/bundle-cli.mjs writes it into the bundle (after
 * the digest line), so the loader compiles the file's text as it is: a
 * 0.9 MB string built here by concatenation is copied again by V8 before
 * it compiles (~1 ms).
 */
const wrapperHead = '(function (exports, require, module, __filename, __dirname, __hostImport) {';
const wrapperTail = '\n})';

/**
 * The part of the cache file's name that stands for the bundle's bytes:
 * the digest its first line states, with the file's size and modification
 * time (a hand edit keeps the line but not both of those); for a file
 * without the line, the sha256 of its bytes.
 */
function bundleKey(bytes, stat) {
  const end = digestLine.length + 64;
  if (bytes.length > end && bytes[end] === 0x0a && bytes.toString('latin1', 0, digestLine.length) === digestLine && isLowerHex(bytes, digestLine.length, end)) {
    // the time in µs: a double holds today's mtimeMs to a fraction of that
    return `${bytes.toString('latin1', digestLine.length, digestLine.length + 32)}-${stat.size.toString(36)}-${Math.round(stat.mtimeMs * 1000).toString(36)}`;
  }
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

/** Whether bytes[start, end) are all of 0-9 a-f. */
function isLowerHex(bytes, start, end) {
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/**
 * The file's bytes, and its fstat taken after reading them: bytes read
 * while a rebuild rewrote the file then carry the rebuild's time, a name
 * no whole file has. (Not a bigint fstat: its first call costs ~0.4 ms.)
 */
function readWithStat(file) {
  const fd = openSync(file, 'r');
  try {
    const bytes = Buffer.allocUnsafe(fstatSync(fd).size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return { bytes: bytes.subarray(0, read), stat: fstatSync(fd) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Load a CommonJS bundle compiled through the code cache, and return its
 * exports. The bundle requires no relative path, and holds no `import()`:
 * it imports through `__hostImport(specifier)`, or `require(fileUrl)`
 * awaited (what scripts/bundle-cli.mjs makes of an `import()`).
 *
 * `tag` names the use (e.g. the CLI command): each tag has its own cache
 * file, holding the functions that its first successful run compiled.
 * Errors: those of reading and running the file; never the cache's.
 */
function loadBundle(file, { tag = 'main', env = process.env } = {}) {
  const { bytes, stat } = readWithStat(file);
  const source = bytes.toString('utf8');
  const dir = cacheDirectory(env);
  let cachePath;
  let cachedData;
  if (dir !== undefined) {
    try {
      const name = `${runtimeKey(env)}-${bundleKey(bytes, stat)}-${tag}.v8`;
      cachePath = join(dir, name);
      cachedData = readCache(cachePath);
    } catch {
      // no cache yet (or none readable): compile, and write one at exit
    }
  }
  // No importModuleDynamically: V8 drops it from a script compiled from a
  // cache, so the bundle holds no import() and imports through
  // `__hostImport` instead (scripts/bundle-cli.mjs).
  const body = source.startsWith(digestLine) ? source.indexOf('\n') + 1 : 0;
  const wrapped = source.startsWith(wrapperHead, body) && source.endsWith(wrapperTail);
  const script = new vm.Script(wrapped ? source : `${wrapperHead}${source}${wrapperTail}`, {
    filename: file,
    ...(cachedData !== undefined && { cachedData }),
  });
  if (cachePath !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.once('exit', (status) => {
      if (status === 0) writeCache(cachePath, script);
    });
  }
  const module = { exports: {} };
  const hostImport = (specifier) => import(specifier);
  let requireFromFile;
  // An import() of a computed specifier, lowered by the bundler to
  // require(): only a file: URL (which require() never takes) comes here
  // that way, and gets a thenable that imports it. A builtin is the same
  // from any module, so this module's require loads it: node:module
  // (createRequire, ~0.5 ms) loads only when a package is required.
  const bundleRequire = (id) => {
    if (typeof id === 'string' && id.startsWith('file:')) return { then: (resolve, reject) => hostImport(id).then(resolve, reject) };
    if (typeof id === 'string' && id.startsWith('node:')) return require(id);
    return (requireFromFile ??= require('node:module').createRequire(file))(id);
  };
  script.runInThisContext()(module.exports, bundleRequire, module, file, dirname(file), hostImport);
  return module.exports;
}

/** The cache file's bytes, if it is the user's own and nobody else may write it. */
function readCache(path) {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (process.getuid !== undefined && (stat.uid !== process.getuid() || (stat.mode & 0o022) !== 0)) return undefined;
    const data = Buffer.allocUnsafe(stat.size);
    let read = 0;
    while (read < data.length) {
      const n = readSync(fd, data, read, data.length - read, read);
      if (n === 0) return undefined;
      read += n;
    }
    return data;
  } finally {
    closeSync(fd);
  }
}

/** Write the script's code cache at `path` atomically. */
function writeCache(path, script) {
  const dir = dirname(path);
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    const data = script.createCachedData();
    mkdirSync(dir, { recursive: true });
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    prune(dir);
  } catch {
    try {
      rmSync(temp, { force: true });
    } catch {
      // nothing more to undo
    }
  }
}

/** Files kept in the cache directory: enough for a few installs, Node versions and tags used in turn. */
const keptFiles = 16;

/** Remove the least recently written cache files past {@link keptFiles} (older bundles', mostly). */
function prune(dir) {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.v8'))
    // a file another process removed meanwhile counts as the oldest
    .map((name) => ({ name, mtimeMs: statSync(join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { name } of files.slice(keptFiles)) rmSync(join(dir, name), { force: true });
}

module.exports = { loadBundle, cacheDirectory, digestLine, wrapperHead, wrapperTail };
