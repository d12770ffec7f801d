import { describe, it } from 'vitest';
import { checkCapabilities, wasmCapabilities, type BackendCapabilities } from '../../src/backends/index.js';
import { everyMount, expectStrataError, manifest, rootModes } from './manifests.js';

describe('checkCapabilities', () => {
  it('lets the wasm backend take every root mode and mount kind', () => {
    for (const mode of rootModes) checkCapabilities('wasm', wasmCapabilities, manifest(mode, everyMount, 'wasm'));
  });

  const narrow: BackendCapabilities = { ...wasmCapabilities, platforms: [process.platform], architectures: ['amd64', 'arm64', 'riscv64', 's390x', 'ppc64'], rootModes: ['readonly'], mountKinds: ['tmpfs', 'identity'], checkpoint: 'none' };
  it.each([
    ['another class', () => checkCapabilities('wasm', wasmCapabilities, manifest('overlay', [], 'runc')), /cannot prepare a 'runc' manifest/],
    ['another platform', () => checkCapabilities('wasm', { ...narrow, platforms: ['aix'] }, manifest('readonly', [], 'wasm')), new RegExp(`does not run on ${process.platform}`)],
    ['another architecture', () => checkCapabilities('wasm', { ...narrow, architectures: ['mips64'] }, manifest('readonly', [], 'wasm')), /does not run on/],
    ['a root mode it lacks', () => checkCapabilities('wasm', narrow, manifest('overlay', [], 'wasm')), /no 'overlay' root/],
    ['a mount kind it lacks', () => checkCapabilities('wasm', narrow, manifest('readonly', everyMount, 'wasm')), /no bind mounts \(at '\/data'/],
  ])('refuses %s with ERR_INVALID_OPTION', (_name, check, message) => {
    expectStrataError(check, 'ERR_INVALID_OPTION', message);
  });
});
