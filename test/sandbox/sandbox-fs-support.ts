/** What the sandbox.fs tests share: a SandboxFs over a fresh tmpfs root. */
import { SandboxFs } from '../../src/sandbox/sandbox-fs.js';
import { Namespace, Tmpfs } from '../../src/vfs/index.js';

/** A sandbox fs over a fresh tmpfs root, with optional quotas. */
export function freshSandboxFs(limits?: { maxBytes?: number; maxInodes?: number }): { fs: SandboxFs; tmpfs: Tmpfs; ns: Namespace } {
  const tmpfs = new Tmpfs({ dev: 1n, ...(limits !== undefined && { limits }) });
  const ns = new Namespace(tmpfs.root);
  return { fs: new SandboxFs(ns), tmpfs, ns };
}
