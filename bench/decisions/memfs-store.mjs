// Decision measurement: should memfs (v4) serve as the tmpfs store?
//
// Runs the same work on memfs's Volume (its sync API) and on strata's
// Tmpfs + Namespace, then probes whether memfs offers what DESIGN.md's
// filesystem contract needs. Prints two tables; the decision itself is
// recorded in docs/decisions.md.
//
//   npm run build && node --expose-gc bench/decisions/memfs-store.mjs
//
// Without --expose-gc the heap column is left out. Times are the median of
// REPS runs, each on a fresh filesystem, after one warm-up run.

import memfs from 'memfs';

const { Volume } = memfs;
const memfsVersion = (await import('memfs/package.json', { with: { type: 'json' } })).default.version;

let vfs;
try {
  vfs = await import(new URL('../../dist/vfs/index.js', import.meta.url).href);
} catch (error) {
  console.error('dist/vfs is missing: run `npm run build` first.');
  throw error;
}
const { Namespace, Tmpfs, FsError } = vfs;

const REPS = 5;
const DIRS = 100;
const FILES_PER_DIR = 100;
const FILES = DIRS * FILES_PER_DIR;
const APPENDS = 100_000;
const payload = new Uint8Array(16).fill(0x61);
const payloadBuf = Buffer.from(payload);

// --- the two stores, behind the same six operations -------------------------

/** strata: a Tmpfs under a Namespace, as the WASI layer uses them. */
function strataStore() {
  const fs = new Tmpfs({ dev: 1n });
  const ns = new Namespace(fs.root);
  const root = fs.root;
  const create = { follow: true, create: true };
  return {
    name: 'strata',
    mkdir: (p) => ns.mkdir(root, p),
    writeFile: (p) => {
      const { node } = ns.open(root, p, create);
      node.retain(); // what an fd does
      node.truncate(0);
      node.write(payload, 0, 16, 0);
      node.release();
    },
    stat: (p) => ns.stat(root, p, true),
    rename: (p, q) => ns.rename(root, p, root, q),
    unlink: (p) => ns.unlink(root, p),
    appendFd: (p, n) => {
      const { node } = ns.open(root, p, create);
      node.retain();
      for (let i = 0; i < n; i++) node.write(payload, 0, 16, node.size);
      node.release();
      return node.size;
    },
    appendPath: (p, n) => {
      for (let i = 0; i < n; i++) {
        const { node } = ns.open(root, p, create);
        node.retain();
        node.write(payload, 0, 16, node.size);
        node.release();
      }
      return ns.stat(root, p, true).size;
    },
  };
}

/** memfs: a fresh Volume, through its Node-style sync API. */
function memfsStore() {
  const vol = new Volume();
  return {
    name: 'memfs',
    mkdir: (p) => vol.mkdirSync(p),
    writeFile: (p) => vol.writeFileSync(p, payloadBuf),
    // bigint: WASI's filestat needs u64 inode numbers and ns times.
    stat: (p) => vol.statSync(p, { bigint: true }),
    rename: (p, q) => vol.renameSync(p, q),
    unlink: (p) => vol.unlinkSync(p),
    appendFd: (p, n) => {
      const fd = vol.openSync(p, 'a');
      for (let i = 0; i < n; i++) vol.writeSync(fd, payloadBuf);
      vol.closeSync(fd);
      return vol.statSync(p).size;
    },
    appendPath: (p, n) => {
      for (let i = 0; i < n; i++) vol.appendFileSync(p, payloadBuf);
      return vol.statSync(p).size;
    },
  };
}

// --- the work ----------------------------------------------------------------

const paths = [];
const renamed = [];
for (let d = 0; d < DIRS; d++) {
  for (let f = 0; f < FILES_PER_DIR; f++) {
    paths.push(`/d${d}/f${f}`);
    // Renames cross directories, so both parents change.
    renamed.push(`/d${(d + 1) % DIRS}/g${f}`);
  }
}

function heapUsed() {
  if (typeof globalThis.gc !== 'function') return undefined;
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** One run of the 10k-file workload on a fresh store; ms per phase. */
function metadataRun(makeStore) {
  const heap0 = heapUsed();
  const s = makeStore();
  const t = [performance.now()];
  for (let d = 0; d < DIRS; d++) s.mkdir(`/d${d}`);
  for (const p of paths) s.writeFile(p);
  t.push(performance.now());
  const heap1 = heapUsed();
  t.push(performance.now());
  let bytes = 0;
  for (const p of paths) bytes += Number(s.stat(p).size);
  if (bytes !== FILES * 16) throw new Error(`${s.name}: stat saw ${bytes} bytes`);
  t.push(performance.now());
  for (let i = 0; i < FILES; i++) s.rename(paths[i], renamed[i]);
  t.push(performance.now());
  for (const p of renamed) s.unlink(p);
  t.push(performance.now());
  return {
    create: t[1] - t[0],
    stat: t[3] - t[2],
    rename: t[4] - t[3],
    unlink: t[5] - t[4],
    heap: heap0 === undefined || heap1 === undefined ? undefined : heap1 - heap0,
  };
}

function appendRun(makeStore, kind) {
  const s = makeStore();
  const t0 = performance.now();
  const size = kind === 'fd' ? s.appendFd('/log', APPENDS) : s.appendPath('/log', APPENDS);
  const ms = performance.now() - t0;
  if (Number(size) !== APPENDS * 16) throw new Error(`${s.name}: appended ${size} bytes`);
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function measure(fn) {
  fn(); // warm-up
  const runs = [];
  for (let i = 0; i < REPS; i++) runs.push(fn());
  return runs;
}

const stores = { memfs: memfsStore, strata: strataStore };
const results = {};
for (const [name, make] of Object.entries(stores)) {
  const meta = measure(() => metadataRun(make));
  results[name] = {
    create: median(meta.map((r) => r.create)),
    stat: median(meta.map((r) => r.stat)),
    rename: median(meta.map((r) => r.rename)),
    unlink: median(meta.map((r) => r.unlink)),
    heap: meta[0].heap === undefined ? undefined : median(meta.map((r) => r.heap)),
    appendFd: median(measure(() => appendRun(make, 'fd'))),
    appendPath: median(measure(() => appendRun(make, 'path'))),
  };
}

const rows = [
  ['create 100 dirs + 10k files of 16 B', 'create', FILES],
  ['stat 10k files', 'stat', FILES],
  ['rename 10k files (across dirs)', 'rename', FILES],
  ['unlink 10k files', 'unlink', FILES],
  ['100k appends of 16 B through one fd', 'appendFd', APPENDS],
  ['100k appends of 16 B by path (open each)', 'appendPath', APPENDS],
];

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const fmt = (ms, ops) => `${ms.toFixed(1)} ms (${Math.round((ms * 1e6) / ops)} ns/op)`;

console.log(`\nmemfs ${memfsVersion} Volume vs strata Tmpfs+Namespace — node ${process.version}, median of ${REPS} runs\n`);
console.log(`${pad('work', 44)}${lpad('memfs', 26)}${lpad('strata', 26)}${lpad('memfs/strata', 14)}`);
for (const [label, key, ops] of rows) {
  const m = results.memfs[key];
  const s = results.strata[key];
  console.log(`${pad(label, 44)}${lpad(fmt(m, ops), 26)}${lpad(fmt(s, ops), 26)}${lpad((m / s).toFixed(2) + '×', 14)}`);
}
if (results.memfs.heap !== undefined) {
  const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB (${Math.round(b / FILES)} B/file)`;
  const m = results.memfs.heap;
  const s = results.strata.heap;
  console.log(`${pad('heap held by 100 dirs + 10k files', 44)}${lpad(mib(m), 26)}${lpad(mib(s), 26)}${lpad((m / s).toFixed(2) + '×', 14)}`);
} else {
  console.log('(heap: run with node --expose-gc)');
}

// --- what the contract needs --------------------------------------------------

/** The errno of a thrown fs error, or 'ok'. */
function outcome(fn) {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof FsError || typeof error?.code === 'string') return error.code;
    throw error;
  }
}

const probes = [
  {
    need: 'readdir cookies stable under mutation',
    memfs() {
      // No telldir/seekdir: readdirSync is a sorted array, and a Dir is a
      // one-way iterator with no seek. A cookie has to be an index into a
      // fresh listing, which shifts when an earlier entry goes away.
      const vol = new Volume();
      vol.mkdirSync('/d');
      for (let i = 0; i < 10; i++) vol.writeFileSync(`/d/e${i}`, '');
      const first = vol.readdirSync('/d').slice(0, 5); // e0 … e4; cookie = 5
      vol.unlinkSync('/d/e1');
      const rest = vol.readdirSync('/d').slice(5);
      const missed = ['e5', 'e6', 'e7', 'e8', 'e9'].filter((n) => !rest.includes(n) && !first.includes(n));
      const dir = vol.opendirSync('/d');
      const seek = typeof dir.seek === 'function' || typeof dir.tell === 'function';
      dir.closeSync();
      return { ok: missed.length === 0 && seek, note: `no seek/tell on Dir; index cookie skipped ${missed.join(', ') || 'none'}` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const ns = new Namespace(fs.root);
      const d = ns.mkdir(fs.root, '/d');
      for (let i = 0; i < 10; i++) ns.open(fs.root, `/d/e${i}`, { follow: true, create: true });
      let cookie = 2;
      const first = [];
      ns.readdir(d, 2, (e) => (first.length < 5 ? (first.push(e.name), (cookie = e.next), true) : false));
      ns.unlink(fs.root, '/d/e1');
      const rest = [];
      ns.readdir(d, cookie, (e) => (rest.push(e.name), true));
      const missed = ['e5', 'e6', 'e7', 'e8', 'e9'].filter((n) => !rest.includes(n));
      return { ok: missed.length === 0, note: `seq cookies; skipped ${missed.join(', ') || 'none'}` };
    },
  },
  {
    need: 'byte quota (ENOSPC)',
    memfs() {
      const vol = new Volume();
      const big = Buffer.alloc(4 << 20);
      const r = outcome(() => vol.writeFileSync('/big', big));
      const sfs = vol.statfsSync('/');
      return { ok: false, note: `no limit option; 4 MiB write: ${r}; statfs is a fixed mock (blocks=${sfs.blocks})` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n, limits: { maxBytes: 1024 } });
      const f = fs.root.createFile('f', 0o644);
      const r = outcome(() => f.write(new Uint8Array(2048), 0, 2048, 0));
      return { ok: r === 'ENOSPC' && f.size === 0, note: `maxBytes; over-limit write: ${r}, size unchanged` };
    },
  },
  {
    need: 'inode quota (ENOSPC)',
    memfs() {
      const vol = new Volume();
      for (let i = 0; i < 2000; i++) vol.writeFileSync(`/f${i}`, '');
      return { ok: false, note: `no limit option; statfs files=${vol.statfsSync('/').files} (mock)` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n, limits: { maxInodes: 2 } });
      fs.root.createFile('a', 0o644);
      const r = outcome(() => fs.root.createFile('b', 0o644));
      return { ok: r === 'ENOSPC', note: `maxInodes; third inode: ${r}` };
    },
  },
  {
    need: 'unlinked-but-open files usable',
    memfs() {
      const vol = new Volume();
      vol.writeFileSync('/a', 'hello');
      const fd = vol.openSync('/a', 'r+');
      const ino = vol.fstatSync(fd).ino;
      vol.unlinkSync('/a');
      const buf = Buffer.alloc(5);
      vol.readSync(fd, buf, 0, 5, 0);
      const w = outcome(() => vol.writeSync(fd, Buffer.from('!'), 0, 1, 5));
      vol.writeFileSync('/b', '');
      const clash = vol.statSync('/b').ino === ino;
      vol.closeSync(fd);
      const ok = buf.toString() === 'hello' && w === 'ok';
      return { ok: ok && !clash, note: `read/write via fd work; ${clash ? `its ino ${ino} is given to a new file while still open` : 'ino kept'}` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const ns = new Namespace(fs.root);
      const { node } = ns.open(fs.root, '/a', { follow: true, create: true });
      node.retain();
      node.write(payload, 0, 5, 0);
      ns.unlink(fs.root, '/a');
      const buf = new Uint8Array(5);
      node.read(buf, 0, 5, 0);
      const w = outcome(() => node.write(payload, 0, 1, 5));
      const b = ns.open(fs.root, '/b', { follow: true, create: true }).node;
      const held = fs.usage.bytes;
      node.release();
      return { ok: w === 'ok' && b.ino !== node.ino && held === 6 && fs.usage.bytes === 0, note: 'retain/release; bytes refunded on release' };
    },
  },
  {
    need: 'stable inode numbers (never reused)',
    memfs() {
      const vol = new Volume();
      vol.writeFileSync('/a', '');
      const a = vol.statSync('/a').ino;
      vol.unlinkSync('/a');
      vol.writeFileSync('/b', '');
      const b = vol.statSync('/b').ino;
      return { ok: a !== b, note: `deleted ino ${a} reused by the next file (${b}); counter wraps at 2^32-1` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const a = fs.root.createFile('a', 0o644).ino;
      fs.root.unlink('a');
      const b = fs.root.createFile('b', 0o644).ino;
      return { ok: a !== b, note: `per-instance bigint counter: ${a} then ${b}` };
    },
  },
  {
    need: 'times with ns precision',
    memfs() {
      const vol = new Volume();
      vol.writeFileSync('/t', '');
      vol.utimesSync('/t', 1700000000.123456789, 1700000000.123456789);
      const s = vol.statSync('/t', { bigint: true });
      return { ok: s.mtimeNs === 1700000000123456789n, note: `Date-backed: set …123456789 ns, read ${s.mtimeNs}` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const f = fs.root.createFile('t', 0o644);
      f.setTimes(1700000000123456789n, 1700000000123456789n);
      return { ok: f.stat().mtimeNs === 1700000000123456789n, note: `bigint ns: read ${f.stat().mtimeNs}` };
    },
  },
  {
    need: 'rename of a dir into its own subtree: EINVAL',
    memfs() {
      const vol = new Volume();
      vol.mkdirSync('/d/e', { recursive: true });
      const r = outcome(() => vol.renameSync('/d', '/d/e/x'));
      return { ok: r === 'EINVAL', note: `${r}; /d then ${outcome(() => vol.statSync('/d'))} (subtree detached)` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const ns = new Namespace(fs.root);
      ns.mkdir(fs.root, '/d');
      ns.mkdir(fs.root, '/d/e');
      const r = outcome(() => ns.rename(fs.root, '/d', fs.root, '/d/e/x'));
      return { ok: r === 'EINVAL', note: r };
    },
  },
  {
    need: 'hard link of a directory: EPERM',
    memfs() {
      const vol = new Volume();
      vol.mkdirSync('/d');
      const r = outcome(() => vol.linkSync('/d', '/d2'));
      return { ok: r === 'EPERM', note: r };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const ns = new Namespace(fs.root);
      ns.mkdir(fs.root, '/d');
      const r = outcome(() => ns.link(fs.root, '/d', true, fs.root, '/d2'));
      return { ok: r === 'EPERM', note: r };
    },
  },
  {
    need: 'dir nlink = 2 + subdirs (root too)',
    memfs() {
      const vol = new Volume();
      vol.mkdirSync('/d');
      vol.writeFileSync('/f', '');
      const n = vol.statSync('/').nlink;
      return { ok: n === 3, note: `root with 1 subdir, 1 file: nlink ${n}` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      fs.root.mkdir('d', 0o755);
      fs.root.createFile('f', 0o644);
      const n = fs.root.stat().nlink;
      return { ok: n === 3, note: `root with 1 subdir, 1 file: nlink ${n}` };
    },
  },
  {
    need: 'names over 255 bytes: ENAMETOOLONG',
    memfs() {
      const r = outcome(() => new Volume().writeFileSync('/' + 'n'.repeat(256), ''));
      return { ok: r === 'ENAMETOOLONG', note: r };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const r = outcome(() => new Namespace(fs.root).open(fs.root, '/' + 'n'.repeat(256), { follow: true, create: true }));
      return { ok: r === 'ENAMETOOLONG', note: r };
    },
  },
  {
    need: 'symlink limit: 40 followed, 41 ELOOP',
    memfs() {
      const vol = new Volume();
      vol.writeFileSync('/t', '');
      for (let i = 1; i <= 41; i++) vol.symlinkSync(i === 41 ? '/t' : `/l${i + 1}`, `/l${i}`);
      const r40 = outcome(() => vol.statSync('/l2'));
      const r41 = outcome(() => vol.statSync('/l1'));
      return { ok: r40 === 'ok' && r41 === 'ELOOP', note: `40: ${r40}, 41: ${r41}` };
    },
    strata() {
      const fs = new Tmpfs({ dev: 1n });
      const ns = new Namespace(fs.root);
      fs.root.createFile('t', 0o644);
      for (let i = 1; i <= 41; i++) ns.symlink(i === 41 ? '/t' : `/l${i + 1}`, fs.root, `/l${i}`);
      const r40 = outcome(() => ns.stat(fs.root, '/l2', true));
      const r41 = outcome(() => ns.stat(fs.root, '/l1', true));
      return { ok: r40 === 'ok' && r41 === 'ELOOP', note: `40: ${r40}, 41: ${r41}` };
    },
  },
];

console.log(`\n${pad('contract needs', 46)}${pad('memfs', 8)}${pad('strata', 8)}memfs evidence | strata evidence`);
for (const probe of probes) {
  const m = probe.memfs();
  const s = probe.strata();
  const yn = (r) => (r.ok ? 'yes' : 'NO');
  console.log(`${pad(probe.need, 46)}${pad(yn(m), 8)}${pad(yn(s), 8)}${m.note} | ${s.note}`);
}
console.log('\nmemfs has no mount table or process root either: mounts, EXDEV and RESOLVE_IN_ROOT-style clamping stay in the Namespace whatever the store.');
