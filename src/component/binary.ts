/**
 * Whether `bytes` are a WebAssembly component (the binary's layer field is
 * 1) rather than a core module (layer 0): `\0asm`, then version 0x0d and
 * layer 1, as the component model's binary format says.
 * https://github.com/WebAssembly/component-model/blob/main/design/mvp/Binary.md
 */
export function isComponent(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d &&
    bytes[6] === 1 && bytes[7] === 0
  );
}

/** The OCI layer media type of a wasm component artifact (wasm-pkg / wkg). */
export const componentLayerMediaType = 'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm';
