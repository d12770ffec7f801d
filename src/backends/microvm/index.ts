export { QemuBackend, qemuCapabilities } from './qemu-backend.js';
export type { QemuPrepared, QemuSettings } from './qemu-backend.js';
export { qemuClassConfig } from './assets.js';
export type { MicrovmAssetsFile } from './assets.js';
export { probeAccel, kvmProbeMs } from './accel.js';
export { liveVms } from './vm-process.js';
export { writeJob, maxJobArgBytes, maxJobStdinBytes } from './job.js';
export type { Job } from './job.js';
