export { Sandbox, GuestError, RootMode, defaultMaxOutputBytes } from './sandbox.js';
export type { RunOptions, RunResult, SandboxOptions } from './sandbox.js';
export { compileGuest, GuestModule, defaultMemoryLimitBytes } from './guest-module.js';
export type { CompileOptions } from './guest-module.js';
