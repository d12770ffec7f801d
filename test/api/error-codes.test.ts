import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, StrataError } from '../../src/index.js';

// One table for every error class: each stable code is unique, has the
// ERR_ shape, is raised as a StrataError carrying it, and is documented.
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const codes = Object.entries(ErrorCode);

describe('error codes', () => {
  it('are unique', () => {
    expect(new Set(codes.map(([, code]) => code)).size).toBe(codes.length);
  });

  it.each(codes)('%s (%s) is well formed, carried by StrataError and documented in the README', (_key, code) => {
    expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
    const error = new StrataError(code, 'message', { cause: new Error('inner') });
    expect(error).toMatchObject({ code, message: 'message', name: 'StrataError' });
    expect((error.cause as Error).message).toBe('inner');
    expect(readme).toContain(`\`${code}\``);
  });
});

// Node's own codes that strata compares against but never raises.
const nodeCodes = new Set([
  'ERR_SCRIPT_EXECUTION_TIMEOUT', // vm's watchdog, turned into ERR_TIMEOUT
  'ERR_ZLIB_INITIALIZATION_FAILED', // zlib, turned into ERR_LAYER_DECOMPRESS
  'ERR_WORKER_INVALID_EXEC_ARGV', // a pool worker refusing a process-wide V8 flag, which is then left out
]);

describe('codes raised in src/', () => {
  it('are all in ErrorCode (so the table above covers them)', async () => {
    const { readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const root = new URL('../../src/', import.meta.url).pathname;
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const used = new Set<string>();
    for (const f of files) for (const m of readFileSync(join(root, f), 'utf8').matchAll(/'(ERR_[A-Z0-9_]+)'/g)) used.add(m[1]!);
    const known = new Set<string>(Object.values(ErrorCode));
    expect([...used].filter((c) => !known.has(c) && !nodeCodes.has(c))).toEqual([]);
    expect(used.size).toBeGreaterThan(30);
  });
});
