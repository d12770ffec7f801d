import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ErrorCode, StrataError } from '../errors.js';
import { defaultStoreRoot } from '../oci/index.js';
import { fileSha256, hostArch } from './assets.js';
import type { BackendAsset } from './manifest.js';
import { defaultHostConfig, type ClassConfig, type HostConfig } from './registry.js';

/**
 * The host config file an operator writes: which sandbox classes this host
 * enables, the binaries (assets) each runs pinned by sha256 per
 * architecture, and per-class settings. Any class fits the same shape
 * (`runc`: one asset `runc`; `qemu`: `qemu`, `kernel`, `initramfs`…).
 *
 * ```json
 * { "version": 1,
 *   "classes": {
 *     "runc": { "assets": [{ "name": "runc", "version": "1.1.5+ds1",
 *                "arch": { "amd64": { "path": "/usr/sbin/runc", "sha256": "…64 hex…" } } }],
 *               "config": {} } } }
 * ```
 */
export interface HostConfigFile extends HostConfig {
  readonly version: 1;
}

/** The JSON Schema (draft-07) of the host config file. */
export const hostConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://strata.dev/schemas/host-config.v1.json',
  type: 'object',
  required: ['version', 'classes'],
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    classes: {
      type: 'object',
      propertyNames: { enum: ['wasm', 'runsc', 'runc', 'crun', 'qemu', 'firecracker'] },
      additionalProperties: {
        type: 'object',
        required: ['assets'],
        additionalProperties: false,
        properties: {
          assets: { type: 'array', items: { $ref: '#/definitions/asset' } },
          config: { type: 'object' },
        },
      },
    },
  },
  definitions: {
    asset: {
      type: 'object',
      required: ['name', 'version', 'arch'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' },
        version: { type: 'string', minLength: 1 },
        arch: {
          type: 'object',
          minProperties: 1,
          additionalProperties: {
            type: 'object',
            required: ['path', 'sha256'],
            additionalProperties: false,
            properties: { path: { type: 'string', pattern: '^/' }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          },
        },
      },
    },
  },
} as const;

let validator: ValidateFunction | undefined;

/**
 * Where the host config is read from: `explicit` (`--host-config FILE`),
 * else `$STRATA_HOST_CONFIG`, else `host.json` in the store root
 * (`$STRATA_HOME`, …; see `defaultStoreRoot`).
 */
export function hostConfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined) return resolve(explicit);
  if (env['STRATA_HOST_CONFIG']) return resolve(env['STRATA_HOST_CONFIG']);
  return join(defaultStoreRoot(env), 'host.json');
}

/**
 * Parse and validate a host config file's bytes against {@link hostConfigSchema}.
 *
 * Errors: ERR_BAD_HOST_CONFIG (not JSON; a field that fails the schema,
 * named by its JSON pointer; a class listing one asset name twice), naming `what`.
 */
export function parseHostConfig(bytes: Uint8Array | string, what: string): HostConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new StrataError(ErrorCode.badHostConfig, `${what} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  // ajv is loaded on the first host config read, not with the CLI: loading it costs ~60–90 ms, most of `strata run`'s own start.
  if (validator === undefined) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    validator = new Ajv({ allErrors: false, strict: true }).compile(hostConfigSchema);
  }
  if (!validator(json)) {
    const first = (validator.errors ?? [])[0] as ErrorObject | undefined;
    throw new StrataError(ErrorCode.badHostConfig, `${what}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}${first?.params !== undefined && 'allowedValues' in first.params ? ` (${String(first.params['allowedValues'])})` : ''}`);
  }
  const config = json as HostConfigFile;
  for (const [cls, c] of Object.entries(config.classes)) {
    const names = (c as ClassConfig).assets.map((a) => a.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new StrataError(ErrorCode.badHostConfig, `${what}: /classes/${cls} pins asset '${twice}' twice`);
  }
  return config;
}

/**
 * The host config at `path` (see {@link hostConfigPath}). A missing file is
 * no error: the host then enables the `wasm` class only (`defaultHostConfig`).
 * A file that does not configure `wasm` gets the default `wasm` class added.
 *
 * Errors: ERR_BAD_HOST_CONFIG (unreadable, or see {@link parseHostConfig}).
 */
export async function readHostConfig(path: string = hostConfigPath()): Promise<HostConfig> {
  const file = await readHostConfigFile(path);
  if (file === undefined) return defaultHostConfig();
  if (file.classes.wasm !== undefined) return file;
  return { classes: { ...(await defaultHostConfig()).classes, ...file.classes } };
}

/** The file alone, or `undefined` when there is none. Errors: ERR_BAD_HOST_CONFIG. */
export async function readHostConfigFile(path: string): Promise<HostConfigFile | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StrataError(ErrorCode.badHostConfig, `cannot read the host config '${path}': ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  return parseHostConfig(bytes, `host config '${path}'`);
}

/** Write a host config file atomically (validated first; temp file + rename). Errors: ERR_BAD_HOST_CONFIG. */
export async function writeHostConfig(path: string, config: HostConfigFile): Promise<void> {
  const text = `${JSON.stringify(config, null, 2)}\n`;
  parseHostConfig(text, `host config to write to '${path}'`);
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeFile(temp, text, { mode: 0o644 });
  await rename(temp, path);
}

/**
 * `config` with `asset` pinned in class `cls` for its architectures: an
 * asset of the same name is replaced for those architectures (others kept),
 * else added. `classConfig` entries are merged over the class's config.
 * Pure.
 */
export function pinAsset(config: HostConfigFile | undefined, cls: string, asset: BackendAsset, classConfig?: Readonly<Record<string, unknown>>): HostConfigFile {
  const classes = { ...(config?.classes ?? {}) } as Record<string, ClassConfig>;
  const current = classes[cls] ?? { assets: [] };
  const existing = current.assets.find((a) => a.name === asset.name);
  const merged: BackendAsset = existing === undefined || existing.version !== asset.version ? asset : { ...asset, arch: { ...existing.arch, ...asset.arch } };
  const assets = existing === undefined ? [...current.assets, merged] : current.assets.map((a) => (a.name === asset.name ? merged : a));
  const settings = { ...(current.config ?? {}), ...(classConfig ?? {}) };
  classes[cls] = { assets, ...(Object.keys(settings).length > 0 && { config: settings }) };
  return { version: 1, classes };
}

/**
 * Describe a host binary as an asset pinned now: its sha256 and the version
 * it reports (`PATH --version`'s first `version X` word, else `versionArgs`'
 * output; `unknown` when it says none), for this host's architecture.
 *
 * Errors: ERR_ASSET_MISSING (the file cannot be read).
 */
export async function probeAsset(name: string, path: string, options: { version?: string; versionArgs?: readonly string[]; arch?: string } = {}): Promise<BackendAsset> {
  const absolute = resolve(path);
  const sha256 = await fileSha256(absolute);
  const version = options.version ?? (await reportedVersion(absolute, options.versionArgs ?? ['--version']));
  return { name, version, arch: { [options.arch ?? hostArch()]: { path: absolute, sha256 } } };
}

function reportedVersion(path: string, args: readonly string[]): Promise<string> {
  return new Promise((done) => {
    execFile(path, [...args], { timeout: 10_000, maxBuffer: 1 << 20 }, (_error, stdout, stderr) => {
      const text = `${String(stdout)}\n${String(stderr)}`;
      done(/version\s+v?([0-9][^\s,]*)/i.exec(text)?.[1] ?? 'unknown');
    });
  });
}
