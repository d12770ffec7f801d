import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of a committed guest: guests/bin/NAME.wasm. */
export function guestPath(name: string): string {
  return fileURLToPath(new URL(`../../guests/bin/${name}.wasm`, import.meta.url));
}

/** Bytes of a committed guest. */
export function guestBytes(name: string): Uint8Array {
  return readFileSync(guestPath(name));
}

/** Decode guest output. */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** A hand-assembled core module: the header plus the given sections. */
export function wasmModule(...sections: number[][]): Uint8Array {
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...sections.flat()]);
}

/** A section: id, LEB128 size, body (bodies here stay under 128 bytes). */
export function section(id: number, body: number[]): number[] {
  if (body.length >= 128) throw new Error('test helper handles small sections only');
  return [id, body.length, ...body];
}

/** A name as the binary format encodes it. */
export function name(s: string): number[] {
  return [s.length, ...Buffer.from(s)];
}
