/**
 * The base of every error strata raises on purpose, outside the VFS.
 *
 * Each subclass carries a stable `code` (`ERR_*`) that callers can switch on;
 * the message names the offending item. `cause` keeps the underlying error.
 */
export class StrataError extends Error {
  /** Stable machine-readable code, e.g. `ERR_NOT_WASM`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StrataError';
    this.code = code;
  }
}

/** Every stable error code strata raises, with its meaning. */
export const ErrorCode = {
  /** The input is not a WebAssembly binary (bad magic or version). */
  notWasm: 'ERR_NOT_WASM',
  /** The module is a WebAssembly binary that fails to compile. */
  invalidWasm: 'ERR_INVALID_WASM',
  /** The module imports something the host does not provide. */
  unknownImport: 'ERR_UNKNOWN_IMPORT',
  /** The module does not export what a WASI command needs. */
  notWasiCommand: 'ERR_NOT_WASI_COMMAND',
  /** The guest ran longer than its time limit and was stopped. */
  timeout: 'ERR_TIMEOUT',
  /** The guest trapped (unreachable, out-of-bounds access, stack overflow…). */
  guestTrap: 'ERR_GUEST_TRAP',
  /** An option passed by the caller is invalid. */
  invalidOption: 'ERR_INVALID_OPTION',
  /** A host-side file (module path, stdin file) could not be read. */
  hostFile: 'ERR_HOST_FILE',
  /** A path given by the caller does not exist or has the wrong type. */
  badPath: 'ERR_BAD_PATH',
  /** The guest wrote more output than the configured limit. */
  outputLimit: 'ERR_OUTPUT_LIMIT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
