/**
 * The published schemas in `../shared/specs` (beside the repository), as
 * validators: the OCI runtime-spec's `config-schema.json` (JSON Schema
 * draft-04) and the `definitions` of Firecracker's OpenAPI 2.0 spec.
 * Missing specs fail the run under CI=true and skip the tests otherwise,
 * as the wasi-testsuite does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parse } from 'yaml';

type Validate = ((value: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params?: unknown }[] | null };
interface AjvLike {
  addSchema(schema: object, key: string): void;
  getSchema(key: string): Validate | undefined;
  compile(schema: object): Validate;
}
// ajv-draft-04 is CommonJS: its default export is the class.
const Ajv = (createRequire(import.meta.url)('ajv-draft-04') as { default: new (options: object) => AjvLike }).default;

/** `../shared/specs`, where CI puts the published schemas. */
export const specsDir = fileURLToPath(new URL('../../../shared/specs/', import.meta.url));

/** Whether a spec file is there; throws under CI=true when it is not. */
export function specPresent(relative: string): boolean {
  const present = existsSync(join(specsDir, relative));
  if (!present) {
    if (process.env['CI'] === 'true') throw new Error(`the published spec is missing at ${join(specsDir, relative)}; CI=true allows no skipped tests`);
    console.warn(`skipping: ${relative} not found in ${specsDir} (CI puts it there)`);
  }
  return present;
}

/** A validator that returns the errors as `path: message` lines (empty when valid). */
export type Check = (value: unknown) => string[];

function checker(validate: Validate): Check {
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? ''} ${JSON.stringify(e.params)}`));
}

/**
 * The OCI runtime-spec's `config-schema.json`, every `defs*.json` and
 * `config-*.json` registered under its file name (how the schemas `$ref`
 * each other). One upstream quirk is mended: `defs.json` writes
 * `"#definitions/uint32"` for `"#/definitions/uint32"`.
 */
export function runtimeConfigCheck(): Check {
  const dir = join(specsDir, 'oci-runtime-spec');
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8').replaceAll('"#definitions/', '"#/definitions/')) as object, file);
  }
  return checker(ajv.getSchema('config-schema.json')!);
}

/**
 * Firecracker's `FullVmConfiguration` (the `--config-file` shape), from the
 * `definitions` of its OpenAPI 2.0 spec, `#/definitions/…` refs resolved in
 * the same document. Swagger leaves objects open, but Firecracker's config
 * parser refuses unknown fields (serde's `deny_unknown_fields`), so every
 * object with `properties` is closed here: a misspelled key fails. OpenAPI's
 * `int32`/`int64` formats are checked as integer ranges.
 */
export function firecrackerConfigCheck(): Check {
  const spec = parse(readFileSync(join(specsDir, 'firecracker', 'firecracker.yaml'), 'utf8')) as { definitions: Record<string, unknown> };
  const close = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(close);
    else if (node !== null && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o['type'] === 'object' && o['properties'] !== undefined && o['additionalProperties'] === undefined) o['additionalProperties'] = false;
      // Upstream writes MmdsConfig's address pattern as a `format`; it means a pattern.
      if (typeof o['format'] === 'string' && o['format'].includes('(')) {
        o['pattern'] = `^${o['format']}$`;
        delete o['format'];
      }
      for (const v of Object.values(o)) close(v);
    }
  };
  close(spec.definitions);
  // OpenAPI 2.0's integer formats.
  const formats = { int32: { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 }, int64: { type: 'number', validate: Number.isSafeInteger } };
  const ajv = new Ajv({ strict: false, allErrors: true, formats });
  ajv.addSchema({ definitions: spec.definitions }, 'firecracker.yaml');
  return checker(ajv.compile({ $ref: 'firecracker.yaml#/definitions/FullVmConfiguration' }));
}
