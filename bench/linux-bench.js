// What the Linux-host cases (P10 OCI runtimes, P11 microVM) share: host
// tools, the busybox-static image they run the same job over, timing.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** @param {number[]} xs */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

/** Median, min, max and count of samples. @param {number[]} xs */
export const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });

/** Run a host tool; its stdout, or an error with its stderr. @param {string} cmd @param {string[]} args */
export function tool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The path of `name` on PATH, or ''. @param {string} name */
export const which = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();

/** ns of each of `n` runs of `fn`, one after another. @param {() => Promise<unknown>} fn @param {number} n */
export async function sample(fn, n) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    xs.push((performance.now() - t0) * 1e6);
  }
  return xs;
}

/**
 * The busybox-static image (sh, echo, true, cat; PATH=/usr/bin:/bin), built
 * with umoci into `dir`/layout; with `hello`, guests/bin/hello.wasm as
 * /usr/bin/hello too. Returns its `oci:` reference.
 * @param {string} dir @param {{ hello?: boolean }} [options]
 */
export function buildBusyboxImage(dir, options = {}) {
  const layout = path.join(dir, 'layout');
  tool('umoci', ['init', '--layout', layout]);
  tool('umoci', ['new', '--image', `${layout}:base`]);
  const bundle = path.join(dir, 'bundle');
  tool('umoci', ['unpack', '--rootless', '--image', `${layout}:base`, bundle]);
  const rootfs = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'usr/bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'run']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'echo', 'true', 'cat']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  if (options.hello) fs.copyFileSync(path.join(repo, 'guests/bin/hello.wasm'), path.join(rootfs, 'usr/bin/hello'));
  tool('umoci', ['repack', '--image', `${layout}:base`, bundle]);
  tool('umoci', ['config', '--image', `${layout}:base`, '--tag', 'latest', '--os', 'linux', '--architecture', os.arch() === 'x64' ? 'amd64' : os.arch(), '--config.env', 'PATH=/usr/bin:/bin']);
  return `oci:${layout}:latest`;
}
