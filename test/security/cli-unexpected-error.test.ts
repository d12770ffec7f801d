/**
 * Issue 8, "the CLI never prints a stack trace for guest input": any host
 * exception that is not a typed error reaches the CLI's top-level catch,
 * which used to rethrow it (Node printed a stack trace). It now prints one
 * `strata: ERR_INTERNAL: …` line and exits 1.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

const printed: { out: string[]; err: string[] } = { out: [], err: [] };

vi.mock('../../src/cli/io.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/cli/io.js')>();
  return { ...original, out: (text: string) => void printed.out.push(text), err: (text: string) => void printed.err.push(text) };
});

let thrown: unknown;
vi.mock('../../src/cli/run.js', () => ({
  runHelp: 'help',
  run: () => {
    throw thrown;
  },
}));

const { main } = await import('../../src/cli/main.js');

beforeEach(() => {
  printed.out.length = 0;
  printed.err.length = 0;
  delete process.env['STRATA_DEBUG'];
});

describe('an unexpected host error in the CLI', () => {
  it.each([
    ['a plain Error', new Error('Cannot create a string longer than 0x1fffffe8 characters\n    at somewhere')],
    ['a RangeError with a code', Object.assign(new RangeError('offset out of range'), { code: 'ERR_OUT_OF_RANGE' })],
    ['a thrown string', 'not an error object'],
  ])('%s: one typed line, exit 1, no stack trace', async (_name, error) => {
    thrown = error;
    expect(await main(['run', 'x.wasm'])).toBe(1);
    expect(printed.err).toHaveLength(1);
    expect(printed.err[0]).toMatch(/^strata: ERR_INTERNAL: unexpected host error: .+\n$/);
    expect(printed.err[0]).not.toMatch(/\n\s+at /);
  });

  it('names the error: its class, its code and the first line of its message', async () => {
    thrown = Object.assign(new RangeError('offset out of range\nmore'), { code: 'ERR_OUT_OF_RANGE' });
    await main(['run', 'x.wasm']);
    expect(printed.err[0]).toBe('strata: ERR_INTERNAL: unexpected host error: RangeError ERR_OUT_OF_RANGE: offset out of range\n');
  });

  it('prints the stack only when STRATA_DEBUG=1', async () => {
    process.env['STRATA_DEBUG'] = '1';
    thrown = new Error('boom');
    await main(['run', 'x.wasm']);
    expect(printed.err.join('')).toMatch(/\n\s+at /);
  });
});
