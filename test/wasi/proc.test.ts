/**
 * Process control: proc_exit, proc_raise, sched_yield.
 * Signal numbers are witx's (`signal` in typenames.witx), not Linux's:
 * TERM 15, CHLD 16, CONT 17, URG 22, WINCH 27, POLL 28, SYS 30.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#proc_raise
 */
import { describe, expect } from 'vitest';
import { checkCoverage, row, runCases, type Case } from './harness.js';

const signal = { NONE: 0, KILL: 9, USR1: 10, TERM: 15, CHLD: 16, CONT: 17, URG: 22, WINCH: 27, POLL: 28, SYS: 30 } as const;

const exitCases: Case[] = [0, 1, 42, 255].map((code) =>
  row({
    fn: 'proc_exit',
    name: `exit(${code}) throws ProcExit carrying the code`,
    call: (f) => f.w.proc_exit(code),
    errno: 'exit',
    exitCode: code,
  }),
);

const raiseCases: Case[] = [
  ...(['NONE', 'CHLD', 'CONT', 'URG', 'WINCH'] as const).map((name) =>
    row({
      fn: 'proc_raise',
      name: `SIG${name} (${signal[name]}) is ignored by default: the call returns`,
      call: (f) => f.w.proc_raise(signal[name]),
      errno: 'SUCCESS',
      effect: (f) => expect(f.write(1, 'still here')).toBe(10),
    }),
  ),
  ...(['TERM', 'KILL', 'USR1', 'POLL', 'SYS'] as const).map((name) =>
    row({
      fn: 'proc_raise',
      name: `SIG${name} (${signal[name]}) terminates with 128+${signal[name]}`,
      call: (f) => f.w.proc_raise(signal[name]),
      errno: 'exit',
      exitCode: 128 + signal[name],
    }),
  ),
  row({ fn: 'proc_raise', name: 'signal 31 does not exist', call: (f) => f.w.proc_raise(31), errno: 'EINVAL' }),
  row({ fn: 'proc_raise', name: 'signal 256 does not exist', call: (f) => f.w.proc_raise(256), errno: 'EINVAL' }),
  row({ fn: 'proc_raise', name: 'signal -1 does not exist', call: (f) => f.w.proc_raise(-1), errno: 'EINVAL' }),
];

const yieldCases: Case[] = [row({ fn: 'sched_yield', name: 'returns at once', call: (f) => f.w.sched_yield(), errno: 'SUCCESS' })];

const cases = [...exitCases, ...raiseCases, ...yieldCases];

describe('process control', () => {
  runCases(cases);
  checkCoverage('proc', cases);
});
