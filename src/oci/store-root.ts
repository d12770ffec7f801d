import { join } from 'node:path';

/**
 * The default store location: `$STRATA_HOME`, else `$XDG_CACHE_HOME/strata`,
 * else `~/.cache/strata`.
 *
 * A module of its own, with no import beyond `node:path`: a sandbox reads
 * it on its way to a commit or a volume, and loading the blob store for it
 * would load `node:crypto` and `node:fs/promises` into every process that
 * runs a guest (docs/decisions.md, "CLI start").
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env['STRATA_HOME']) return env['STRATA_HOME'];
  const cache = env['XDG_CACHE_HOME'] || join(process.getBuiltinModule('node:os').homedir(), '.cache');
  return join(cache, 'strata');
}
