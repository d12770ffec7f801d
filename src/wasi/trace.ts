import type { WasiContext } from './context.js';

/**
 * The parameters of every preview1 function, by name. It is the list of
 * what the host provides (a module importing anything else is refused) and
 * what the trace prints. A parameter followed by `<name>Len` is a string.
 */
export const wasiSignatures: Readonly<Record<string, readonly string[]>> = {
  args_get: ['argv', 'argvBuf'],
  args_sizes_get: ['argc', 'argvBufSize'],
  environ_get: ['environ', 'environBuf'],
  environ_sizes_get: ['count', 'bufSize'],
  clock_res_get: ['id', 'resolution'],
  clock_time_get: ['id', 'precision', 'time'],
  fd_advise: ['fd', 'offset', 'len', 'advice'],
  fd_allocate: ['fd', 'offset', 'len'],
  fd_close: ['fd'],
  fd_datasync: ['fd'],
  fd_fdstat_get: ['fd', 'stat'],
  fd_fdstat_set_flags: ['fd', 'flags'],
  fd_fdstat_set_rights: ['fd', 'rightsBase', 'rightsInheriting'],
  fd_filestat_get: ['fd', 'stat'],
  fd_filestat_set_size: ['fd', 'size'],
  fd_filestat_set_times: ['fd', 'atim', 'mtim', 'fstflags'],
  fd_pread: ['fd', 'iovs', 'iovsLen', 'offset', 'nread'],
  fd_prestat_get: ['fd', 'prestat'],
  fd_prestat_dir_name: ['fd', 'path', 'pathLen'],
  fd_pwrite: ['fd', 'iovs', 'iovsLen', 'offset', 'nwritten'],
  fd_read: ['fd', 'iovs', 'iovsLen', 'nread'],
  fd_readdir: ['fd', 'buf', 'bufLen', 'cookie', 'bufused'],
  fd_renumber: ['fd', 'to'],
  fd_seek: ['fd', 'offset', 'whence', 'newOffset'],
  fd_sync: ['fd'],
  fd_tell: ['fd', 'offset'],
  fd_write: ['fd', 'iovs', 'iovsLen', 'nwritten'],
  path_create_directory: ['fd', 'path', 'pathLen'],
  path_filestat_get: ['fd', 'flags', 'path', 'pathLen', 'stat'],
  path_filestat_set_times: ['fd', 'flags', 'path', 'pathLen', 'atim', 'mtim', 'fstflags'],
  path_link: ['oldFd', 'oldFlags', 'oldPath', 'oldPathLen', 'newFd', 'newPath', 'newPathLen'],
  path_open: ['fd', 'dirflags', 'path', 'pathLen', 'oflags', 'rightsBase', 'rightsInheriting', 'fdflags', 'opened'],
  path_readlink: ['fd', 'path', 'pathLen', 'buf', 'bufLen', 'bufused'],
  path_remove_directory: ['fd', 'path', 'pathLen'],
  path_rename: ['fd', 'oldPath', 'oldPathLen', 'newFd', 'newPath', 'newPathLen'],
  path_symlink: ['oldPath', 'oldPathLen', 'fd', 'newPath', 'newPathLen'],
  path_unlink_file: ['fd', 'path', 'pathLen'],
  poll_oneoff: ['in', 'out', 'nsubscriptions', 'nevents'],
  proc_exit: ['code'],
  proc_raise: ['sig'],
  sched_yield: [],
  random_get: ['buf', 'bufLen'],
  sock_accept: ['fd', 'flags', 'result'],
  sock_recv: ['fd', 'riData', 'riDataLen', 'riFlags', 'roDataLen', 'roFlags'],
  sock_send: ['fd', 'siData', 'siDataLen', 'siFlags', 'soDataLen'],
  sock_shutdown: ['fd', 'how'],
};

/** Format one call as `name(a=1, path="x", …)`, decoding string arguments when they are in bounds. */
export function formatCall(name: string, args: readonly unknown[], ctx: WasiContext): string {
  const params = wasiSignatures[name] ?? [];
  const parts: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const param = params[i] ?? `arg${i}`;
    const next = params[i + 1];
    const value = args[i];
    if (next === `${param}Len` && /path/i.test(param)) {
      parts.push(`${param}=${quoted(ctx, value as number, args[i + 1] as number)}`);
      i++;
      continue;
    }
    parts.push(`${param}=${typeof value === 'bigint' ? `${value}n` : String(value)}`);
  }
  return `${name}(${parts.join(', ')})`;
}

function quoted(ctx: WasiContext, ptr: number, len: number): string {
  try {
    // Decode at most 200 bytes: a guest's length may be huge.
    const s = ctx.memory.string(ptr, Math.min(len >>> 0, 200));
    return JSON.stringify((len >>> 0) > 200 ? s + '…' : s);
  } catch {
    return `<bad string 0x${(ptr >>> 0).toString(16)}+${len >>> 0}>`;
  }
}
