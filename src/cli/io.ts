import { writeSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: printed without a code, exit status 2. */
export class UsageError extends Error {}

/** Write all of `chunk` to a file descriptor, waiting out EAGAIN (stdio may be non-blocking). */
export function writeAll(fd: number, chunk: Uint8Array): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let at = 0;
  while (at < chunk.length) {
    try {
      at += writeSync(fd, chunk, at, chunk.length - at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

const encoder = new TextEncoder();

/** Write text to stdout. */
export function out(text: string): void {
  writeAll(1, encoder.encode(text));
}

/** Write text to stderr. */
export function err(text: string): void {
  writeAll(2, encoder.encode(text));
}

/** A command's flags: name → type (and a one-letter alias). */
export type FlagSpec = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>>;

/** Parsed flags: a string or boolean per flag given, and the positionals. */
export interface ParsedFlags<T extends FlagSpec> {
  readonly values: { readonly [K in keyof T]?: T[K]['type'] extends 'string' ? string : boolean };
  readonly positionals: readonly string[];
}

/**
 * Parse a command's flags with node:util's parseArgs, strictly: an unknown
 * flag or a missing value is a UsageError naming it and the command's help.
 */
export function parseFlags<T extends FlagSpec>(command: string, argv: readonly string[], options: T): ParsedFlags<T> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: options as ParseArgsConfig['options'] & object, allowPositionals: true, strict: true });
    return { values: values as ParsedFlags<T>['values'], positionals };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]?.replace(/\. To specify a positional argument.*$/, '') ?? 'bad arguments';
    throw new UsageError(`${message} (see 'strata ${command} --help')`);
  }
}

/** A positive integer flag value. */
export function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} ${text}: expected a positive integer`);
  return n;
}

/** A size such as 65536, 64M or 1G. */
export function bytes(flag: string, text: string): number {
  const m = /^(\d+)([kmg]i?b?)?$/i.exec(text);
  if (m === null) throw new UsageError(`${flag} ${text}: expected a size such as 65536, 64M or 1G`);
  const unit = (m[2] ?? '').charAt(0).toLowerCase();
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const n = Number(m[1]) * scale;
  if (n <= 0) throw new UsageError(`${flag} ${text}: must be positive`);
  return n;
}

/** Bytes for people: 512 B, 12.2 KiB, 3.4 MiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
