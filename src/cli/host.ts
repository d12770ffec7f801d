import { execFileSync } from 'node:child_process';
import { hostConfigPath, pinAsset, probeAsset, readHostConfig, readHostConfigFile, writeHostConfig } from '../backends/host-config.js';
import { SandboxClass } from '../backends/manifest.js';
import { verifyAssets } from '../backends/assets.js';
import { out, parseFlags, UsageError } from './io.js';

/** The text of `strata host --help`. */
export const hostHelp = `Usage: strata host show [--host-config FILE] [--json]
       strata host pin CLASS [--asset NAME] [--path FILE] [--version V]
                       [--config JSON] [--host-config FILE]
       strata host verify [CLASS] [--host-config FILE]

The host config says which sandbox classes this host enables and pins the
binaries each one runs (its assets) by sha256 per architecture. strata
verifies every asset against its file before each use and records them in
snapshots; a restore on a host whose binary differs is refused.

It is read from --host-config FILE, else $STRATA_HOST_CONFIG, else
$STRATA_HOME/host.json. Without a file only the wasm class is enabled.

Commands:
  show     print the host config (the wasm class's default included)
  pin      hash a binary now and pin it for CLASS (wasm, runsc, runc, crun,
           qemu, firecracker), creating the file if needed. Trust the
           binary before pinning it: the pin is what later runs are held to.
  verify   hash every pinned asset (of CLASS, or all) against its pin

Options of pin:
  --asset NAME     the asset's name (default: the class name, e.g. runc)
  --path FILE      the binary (default: NAME found on $PATH)
  --version V      its version (default: what 'FILE --version' reports)
  --config JSON    settings merged into the class's config, e.g.
                   '{"platform":"ptrace"}' for runsc

Example (enable runc):
  strata host pin runc
  strata run --class runc 127.0.0.1:5000/busybox -- /bin/echo hi
`;

/** `strata host`. */
export async function hostCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('host', argv, {
    'host-config': { type: 'string' },
    asset: { type: 'string' },
    path: { type: 'string' },
    version: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    out(hostHelp);
    return 0;
  }
  const [sub, ...rest] = positionals;
  const path = hostConfigPath(values['host-config']);
  switch (sub) {
    case 'show': {
      const config = await readHostConfig(path);
      if (values.json === true) {
        out(`${JSON.stringify({ path, ...config }, null, 2)}\n`);
        return 0;
      }
      out(`host config: ${path}\n`);
      for (const [cls, c] of Object.entries(config.classes)) {
        out(`${cls}\n`);
        for (const a of c.assets) for (const [arch, pin] of Object.entries(a.arch)) out(`  ${a.name} ${a.version} ${arch} ${pin.path} sha256:${pin.sha256}\n`);
        if (c.config !== undefined && Object.keys(c.config).length > 0) out(`  config ${JSON.stringify(c.config)}\n`);
      }
      return 0;
    }
    case 'pin': {
      const cls = rest[0];
      if (cls === undefined || rest.length !== 1) throw new UsageError("expected one CLASS (see 'strata host --help')");
      if (!(Object.values(SandboxClass) as string[]).includes(cls)) throw new UsageError(`unknown sandbox class '${cls}' (one of ${Object.values(SandboxClass).join(', ')})`);
      const name = values.asset ?? cls;
      const file = values.path ?? which(name);
      let classConfig: Record<string, unknown> | undefined;
      if (values.config !== undefined) {
        try {
          classConfig = JSON.parse(values.config) as Record<string, unknown>;
        } catch {
          throw new UsageError(`--config ${values.config}: not JSON`);
        }
        if (classConfig === null || typeof classConfig !== 'object' || Array.isArray(classConfig)) throw new UsageError('--config: expected a JSON object');
      }
      const asset = await probeAsset(name, file, values.version !== undefined ? { version: values.version } : {});
      await writeHostConfig(path, pinAsset(await readHostConfigFile(path), cls, asset, classConfig));
      const [arch, pin] = Object.entries(asset.arch)[0]!;
      out(`pinned ${cls}: ${asset.name} ${asset.version} ${arch} ${pin.path} sha256:${pin.sha256}\nin ${path}\n`);
      return 0;
    }
    case 'verify': {
      const config = await readHostConfig(path);
      const wanted = rest[0];
      for (const [cls, c] of Object.entries(config.classes)) {
        if (wanted !== undefined && cls !== wanted) continue;
        for (const v of await verifyAssets(c.assets)) out(`ok ${cls} ${v.name} ${v.version} ${v.path}\n`);
      }
      return 0;
    }
    default:
      throw new UsageError(sub === undefined ? "missing a command: show, pin or verify (see 'strata host --help')" : `unknown host command '${sub}'`);
  }
}

/** The absolute path of `name` on $PATH. */
function which(name: string): string {
  try {
    const found = execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' }).trim();
    if (found.startsWith('/')) return found;
  } catch {
    // not found
  }
  throw new UsageError(`'${name}' is not on $PATH: give its binary with --path FILE`);
}
