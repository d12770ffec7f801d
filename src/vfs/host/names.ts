import { fsError } from '../errors.js';

// Device names Windows resolves in every directory, with or without an
// extension (`nul.txt` is the null device too). Superscript digits count.
const windowsReserved = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]|conin\$|conout\$)(\..*)?$/i;
// Separators, the drive/stream colon, wildcard characters and controls.
const windowsForbidden = /[\\:*?"<>|\u0000-\u001f]/;

/**
 * Check that `name` is one component on the host, so a host path built from
 * it can name only an entry of the directory it is joined to.
 *
 * Errors: EINVAL (empty, `.`, `..`, a `/` or NUL anywhere; on Windows also
 * `\`, `:`, wildcards, control characters, a trailing dot or space, which
 * Windows strips, and reserved device names such as `CON` or `nul.txt`).
 *
 * https://learn.microsoft.com/en-us/windows/win32/fileio/naming-a-file
 */
export function checkHostName(name: string, syscall: string, platform: NodeJS.Platform = process.platform): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw fsError('EINVAL', syscall, name);
  }
  if (platform === 'win32' && (windowsForbidden.test(name) || /[. ]$/.test(name) || windowsReserved.test(name))) {
    throw fsError('EINVAL', syscall, name);
  }
}
