import { afterAll, expect } from 'vitest';
import { OciRuntimeBackend } from '../../src/backends/index.js';
import { backendConformance } from './conformance.js';
import { bundleDirs, busybox, busyboxManifest, busyboxMotd, cat, ociRuntimeReady, runtimeClasses, runtimeConfig, stopBusybox, tamperedConfig, write } from './oci-runtime-fixture.js';

const ready = ociRuntimeReady();
const before = new Set(bundleDirs());

afterAll(async () => {
  await stopBusybox();
  // Every bundle (state root, mounts) these tests made is gone.
  expect(bundleDirs().filter((d) => !before.has(d))).toEqual([]);
});

if (ready) {
  for (const cls of runtimeClasses) {
    backendConformance(cls, async () => {
      const { image } = await busybox();
      const config = await runtimeConfig(cls);
      return {
        backend: new OciRuntimeBackend(cls, config),
        tampered: new OciRuntimeBackend(cls, tamperedConfig(config)),
        store: image.store,
        motd: busyboxMotd,
        manifest: (mode, mounts = []) => busyboxManifest(cls, image, mode, mounts),
        cat,
        write,
      };
    });
  }
}
