export { WasiHost, wasiFunctionNames, wasiModuleName } from './host.js';
export { elapsedMs } from './clock.js';
export type { Preopen, WasiHostOptions } from './host.js';
export type { StreamSink, StreamSource } from './descriptor.js';
export { ProcExit, GuestDeadline } from './context.js';
export { WasiErrno, wasiErrnoName } from './abi.js';
export { defaultMaxFds } from './fd-table.js';
export { wasiSignatures } from './trace.js';
