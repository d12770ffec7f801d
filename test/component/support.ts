import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of a committed component guest: guests/components/NAME.wasm. */
export function componentPath(name: string): string {
  return fileURLToPath(new URL(`../../guests/components/${name}.wasm`, import.meta.url));
}

/** Bytes of a committed component guest. */
export function componentBytes(name: string): Uint8Array {
  return readFileSync(componentPath(name));
}

/** Bytes as lines, byte for byte (latin1 keeps every byte one char). */
export function lines(bytes: Uint8Array): string[] {
  return Buffer.from(bytes).toString('latin1').split('\n');
}
