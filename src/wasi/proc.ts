import { maxSignal } from './abi.js';
import { ProcExit, type WasiContext } from './context.js';
import { wasiError } from './errno.js';

/**
 * Signals whose default action is to do nothing, by their witx numbers
 * (which are not Linux's): CHLD 16, CONT 17, URG 22, WINCH 27.
 */
const ignoredSignals = new Set([16, 17, 22, 27]);

/**
 * Process control: `proc_exit`, `proc_raise`, `sched_yield`.
 *
 * `proc_raise` applies the signal's default action, as no handlers can be
 * installed: ignored signals return success, and every other signal ends
 * the process with exit code 128 + signal, as a shell reports it.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#proc_exit
 */
export function procSyscalls(_ctx: WasiContext) {
  return {
    /** Ends the process; never returns. */
    proc_exit(code: number): never {
      throw new ProcExit(code >>> 0);
    },

    /** Errors: EINVAL (not a signal number). */
    proc_raise(sig: number): number {
      if (sig < 0 || sig > maxSignal) throw wasiError('EINVAL');
      if (sig === 0 || ignoredSignals.has(sig)) return 0;
      throw new ProcExit(128 + sig);
    },

    /** One thread per process: nothing to yield to. */
    sched_yield(): number {
      return 0;
    },
  };
}
