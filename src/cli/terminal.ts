import { fstatSync, statSync } from 'node:fs';

let nullDeviceRdev: number | undefined;

/**
 * Whether `fd` is a terminal: what `tty.isatty(fd)` answers, without
 * loading node:tty (which loads node:net and node:stream: ~4-8 ms of the
 * CLI's start) where the answer needs no terminal call.
 *
 * On POSIX a terminal is a character device, so an fd that is a pipe, a
 * socket or a regular file is none, nor is the null device (where
 * benchmarks, services and `< /dev/null` put stdio); any other character
 * device, an fd that cannot be stat'ed, and every fd on Windows (where a
 * console's fstat is not documented) get `tty.isatty`.
 * https://pubs.opengroup.org/onlinepubs/9799919799/functions/isatty.html
 */
export function isTerminal(fd: number): boolean {
  if (process.platform !== 'win32') {
    try {
      const stat = fstatSync(fd);
      if (!stat.isCharacterDevice()) return false;
      if (stat.rdev === (nullDeviceRdev ??= statSync('/dev/null').rdev)) return false;
    } catch {
      // a closed fd, or no /dev/null: ask the terminal driver
    }
  }
  return process.getBuiltinModule('node:tty').isatty(fd);
}
