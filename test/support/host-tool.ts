import { spawnSync } from 'node:child_process';

/** Whether `name` is an executable on PATH. */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v '${name.replace(/'/g, '')}'`], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether every host tool a test needs is on PATH.
 *
 * With `CI=true` nothing may be skipped, so a missing tool throws: the test
 * file fails, naming the tool (scripts/install-deps.sh should install it).
 * Elsewhere it returns false and says which tool is missing, so the caller
 * can skip: `describe.skipIf(!requireTool('skopeo', 'umoci'))(…)`.
 */
export function requireTool(...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  const list = missing.map((n) => `'${n}'`).join(', ');
  if (process.env['CI'] === 'true') {
    throw new Error(`host tool ${list} is missing; CI=true allows no skipped tests (add its Debian package to scripts/install-deps.sh)`);
  }
  console.warn(`skipping: host tool ${list} is missing (scripts/install-deps.sh installs it)`);
  return false;
}
