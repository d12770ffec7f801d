/**
 * The dev-nodes guest (guests/src/dev-nodes.c) run in strata over a root with
 * /dev mounted, and the same C built natively and run on this Linux host: the
 * two outputs must be the same, line for line, except where the difference
 * lies in libc or the kernel rather than in the devices ({@link linuxDeviations}).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mountDev, Namespace, Tmpfs } from '../../src/vfs/index.js';
import { WasiHost } from '../../src/wasi/index.js';
import { guestBytes } from '../support/guests.js';
import { requireTool } from '../support/host-tool.js';

const stdinText = 'from stdin\n';

/** Run a guest in strata over a fresh tmpfs root with /dev; stdout and stderr as text. */
function runInStrata(name: string, stdin: string): { code: number; stdout: string; stderr: string } {
  const ns = new Namespace(new Tmpfs({ dev: 1n }).root);
  mountDev(ns, 2n);
  const input = new TextEncoder().encode(stdin);
  let at = 0;
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  const host = new WasiHost({
    namespace: ns,
    args: [name],
    env: [],
    preopens: [{ path: '/', dir: ns.root }],
    stdin: {
      read(dst, offset, length) {
        const n = Math.min(length, input.length - at);
        dst.set(input.subarray(at, at + n), offset);
        at += n;
        return n;
      },
    },
    stdout: { write: (src, offset, length) => void out.push(src.slice(offset, offset + length)) },
    stderr: { write: (src, offset, length) => void err.push(src.slice(offset, offset + length)) },
  });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(guestBytes(name)), host.imports);
  const code = host.start(instance);
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/**
 * Lines Linux prints differently for reasons outside the devices, mapped to
 * what strata prints, with the reason.
 */
const linuxDeviations: Readonly<Record<string, { strata: string; reason: string }>> = {
  'isatty /dev/random: 0 EINVAL': {
    strata: 'isatty /dev/random: 0 ENOTTY',
    reason: "Linux's random driver answers glibc's TCGETS ioctl with EINVAL; wasi-libc's isatty decides from fd_fdstat_get and says ENOTTY",
  },
  'isatty /dev/urandom: 0 EINVAL': {
    strata: 'isatty /dev/urandom: 0 ENOTTY',
    reason: 'the same, for urandom',
  },
};

describe('dev-nodes guest', () => {
  it('runs in strata: every device behaves as Linux documents it', () => {
    const r = runInStrata('dev-nodes', stdinText);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    for (const want of [
      'stat /dev/null: chr=1 size=0',
      'fstat /dev/null: chr=1',
      'isatty /dev/null: 0 ENOTTY',
      'read /dev/null: 0, zeros 0',
      'write /dev/null: 5',
      'lseek-set-100 /dev/null: 0',
      'read /dev/zero: 64, zeros 1',
      'write /dev/full: ENOSPC',
      'pwrite /dev/full: ENOSPC',
      'read /dev/full: 64, zeros 1',
      'read /dev/urandom: 64, again 64, all zero 0, same twice 0',
      'write /dev/urandom: 5',
      'fopen-w /dev/null: ok',
      'dirent /dev/zero: chr',
      'read /dev/stdin: "from stdin',
      'written through /dev/stdout',
      'done',
    ]) {
      expect(lines).toContain(want);
    }
    expect(r.stderr).toBe('written through /dev/stderr\n');
  });

  describe.skipIf(process.platform !== 'linux' || !requireTool('clang'))('against Linux', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-dev-nodes-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('prints what the same C prints on this Linux host, but for the listed deviations', () => {
      const exe = join(dir, 'dev-nodes');
      const source = fileURLToPath(new URL('../../guests/src/dev-nodes.c', import.meta.url));
      const cc = spawnSync('clang', ['-O2', '-Wall', '-Werror', '-o', exe, source], { encoding: 'utf8' });
      expect(cc.stderr).toBe('');
      expect(cc.status).toBe(0);
      // Through real pipes: Node's child stdio are socket pairs, and Linux refuses
      // to open /proc/self/fd/N of a socket (ENXIO). stderr goes to a file.
      const errFile = join(dir, 'stderr');
      const linux = spawnSync('sh', ['-c', 'printf \'%s\' "$2" | "$0" 2>"$1" | cat', exe, errFile, stdinText], { encoding: 'utf8', timeout: 10_000 });
      expect(linux.status).toBe(0);
      const linuxStderr = readFileSync(errFile, 'utf8');
      const strata = runInStrata('dev-nodes', stdinText);
      const expected = linux.stdout.split('\n').map((line) => linuxDeviations[line]?.strata ?? line);
      expect(strata.stdout.split('\n')).toEqual(expected);
      expect(strata.stderr).toBe(linuxStderr);
      // Every deviation listed is still a real one (remove it when Linux or wasi-libc changes).
      for (const line of Object.keys(linuxDeviations)) expect(linux.stdout.split('\n')).toContain(line);
    });
  });
});
