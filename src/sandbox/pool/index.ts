export { SandboxPool } from './pool.js';
export type { SandboxPoolOptions, PooledSandboxOptions } from './pool.js';
export { PooledSandbox } from './pooled-sandbox.js';
export type { SpawnOptions, PooledRunOptions } from './pooled-sandbox.js';
export { PooledSandboxFs } from './pooled-fs.js';
export { Process } from './process.js';
export type { ProcessExit } from './process.js';
export type { ExitReason } from './protocol.js';
