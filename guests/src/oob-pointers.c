// oob-pointers: calls the raw WASI imports with pointers and lengths that
// reach past the end of linear memory, and prints "label: N" with the WASI
// errno number each call returns (21 is EFAULT; 0 means the host accepted
// it). A correct host bounds-checks every guest pointer, returns an errno,
// writes nothing partial, and keeps running: the last line is "survived".
//
// The imports are declared here directly, with plain i32/i64 parameters,
// because wasi-libc's wrappers take C strings and call strlen() on them in
// the guest, which would trap before the host is ever asked.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))

IMPORT(args_get) int32_t raw_args_get(int32_t argv, int32_t buf);
IMPORT(args_sizes_get) int32_t raw_args_sizes_get(int32_t argc, int32_t size);
IMPORT(environ_get) int32_t raw_environ_get(int32_t env, int32_t buf);
IMPORT(environ_sizes_get) int32_t raw_environ_sizes_get(int32_t count, int32_t size);
IMPORT(clock_time_get) int32_t raw_clock_time_get(int32_t id, int64_t precision, int32_t out);
IMPORT(clock_res_get) int32_t raw_clock_res_get(int32_t id, int32_t out);
IMPORT(fd_write) int32_t raw_fd_write(int32_t fd, int32_t iovs, int32_t n, int32_t nwritten);
IMPORT(fd_read) int32_t raw_fd_read(int32_t fd, int32_t iovs, int32_t n, int32_t nread);
IMPORT(fd_pwrite) int32_t raw_fd_pwrite(int32_t fd, int32_t iovs, int32_t n, int64_t off, int32_t nwritten);
IMPORT(fd_pread) int32_t raw_fd_pread(int32_t fd, int32_t iovs, int32_t n, int64_t off, int32_t nread);
IMPORT(fd_readdir) int32_t raw_fd_readdir(int32_t fd, int32_t buf, int32_t len, int64_t cookie, int32_t used);
IMPORT(fd_filestat_get) int32_t raw_fd_filestat_get(int32_t fd, int32_t out);
IMPORT(fd_fdstat_get) int32_t raw_fd_fdstat_get(int32_t fd, int32_t out);
IMPORT(fd_prestat_get) int32_t raw_fd_prestat_get(int32_t fd, int32_t out);
IMPORT(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(int32_t fd, int32_t buf, int32_t len);
IMPORT(fd_seek) int32_t raw_fd_seek(int32_t fd, int64_t off, int32_t whence, int32_t out);
IMPORT(path_open) int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len,
                                        int32_t oflags, int64_t rights, int64_t inheriting,
                                        int32_t fdflags, int32_t out_fd);
IMPORT(path_filestat_get) int32_t raw_path_filestat_get(int32_t fd, int32_t flags, int32_t path,
                                                        int32_t path_len, int32_t out);
IMPORT(path_create_directory) int32_t raw_path_create_directory(int32_t fd, int32_t path, int32_t len);
IMPORT(path_readlink) int32_t raw_path_readlink(int32_t fd, int32_t path, int32_t len, int32_t buf,
                                                int32_t buf_len, int32_t used);
IMPORT(path_symlink) int32_t raw_path_symlink(int32_t old, int32_t old_len, int32_t fd, int32_t path,
                                              int32_t len);
IMPORT(path_rename) int32_t raw_path_rename(int32_t fd, int32_t old, int32_t old_len, int32_t nfd,
                                            int32_t path, int32_t len);
IMPORT(poll_oneoff) int32_t raw_poll_oneoff(int32_t in, int32_t out, int32_t n, int32_t nevents);
IMPORT(random_get) int32_t raw_random_get(int32_t buf, int32_t len);

#define P(x) ((int32_t)(uintptr_t)(x))
#define OOB ((int32_t)0xFFFFFFF0)  // 16 bytes below 4 GiB: past any memory

static void show(const char *label, int32_t err) {
  printf("%s: %d\n", label, (int)err);
  fflush(stdout);
}

// Scratch space the host may legitimately write to.
static uint8_t buf[256] __attribute__((aligned(8)));
static uint32_t out32[4] __attribute__((aligned(8)));
static uint64_t out64[8] __attribute__((aligned(8)));
static uint8_t subs[48 * 2] __attribute__((aligned(8)));
static uint8_t events[32 * 2] __attribute__((aligned(8)));

int main(void) {
  // The first byte past linear memory, and a range straddling the end.
  uint32_t end = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
  int32_t straddle = (int32_t)(end - 4);

  // Find the preopened directory ("/") to use as a dirfd.
  int32_t dir = -1;
  for (int32_t fd = 3; fd < 64 && dir < 0; fd++) {
    if (raw_fd_prestat_get(fd, P(out32)) == 0) dir = fd;
  }
  printf("preopen-found: %s\n", dir >= 0 ? "yes" : "no");

  // A file to read and write through, opened with every right the
  // directory may hand down (fdstat: filetype u8, flags u16, base, inheriting).
  static const char name[] = "oob-file";
  int32_t file = -1;
  int64_t rights = 0;
  if (raw_fd_fdstat_get(dir, P(out64)) == 0) rights = (int64_t)out64[2];
  int32_t e = raw_path_open(dir, 0, P(name), (int32_t)strlen(name), 1 /* CREAT */,
                            rights, rights, 0, P(out32));
  if (e == 0) file = (int32_t)out32[0];
  show("setup-open", e);
  uint32_t iov[2] = {P("0123456789"), 10};
  show("setup-write", raw_fd_write(file, P(iov), 1, P(out32)));

  // fd_write: iovec array, data and count out of bounds, result pointer out
  // of bounds, data straddling the end of memory.
  show("fd_write-iovs-oob", raw_fd_write(1, OOB, 1, P(out32)));
  uint32_t bad[2] = {(uint32_t)OOB, 64};
  show("fd_write-data-oob", raw_fd_write(1, P(bad), 1, P(out32)));
  uint32_t huge[2] = {P(buf), 0xFFFFFFF0u};
  show("fd_write-len-overflow", raw_fd_write(1, P(huge), 1, P(out32)));
  show("fd_write-iovs-count-huge", raw_fd_write(1, P(iov), 0x10000000, P(out32)));
  uint32_t strad[2] = {(uint32_t)straddle, 8};
  show("fd_write-data-straddles-end", raw_fd_write(1, P(strad), 1, P(out32)));
  uint32_t empty[2] = {P(buf), 0};
  show("fd_write-nwritten-oob", raw_fd_write(1, P(empty), 1, OOB));
  show("fd_write-nwritten-straddles-end", raw_fd_write(1, P(empty), 1, (int32_t)(end - 2)));

  // fd_read / fd_pread / fd_pwrite.
  show("fd_read-iovs-oob", raw_fd_read(file, OOB, 1, P(out32)));
  show("fd_read-data-oob", raw_fd_pread(file, P(bad), 1, 0, P(out32)));
  show("fd_read-data-straddles-end", raw_fd_pread(file, P(strad), 1, 0, P(out32)));
  show("fd_read-nread-oob", raw_fd_pread(file, P(iov), 1, 0, OOB));
  show("fd_pwrite-data-oob", raw_fd_pwrite(file, P(bad), 1, 0, P(out32)));
  show("fd_pwrite-iovs-oob", raw_fd_pwrite(file, OOB, 2, 0, P(out32)));

  // Results written by the host.
  show("fd_seek-result-oob", raw_fd_seek(file, 0, 0, OOB));
  show("fd_filestat_get-oob", raw_fd_filestat_get(file, OOB));
  show("fd_filestat_get-straddles-end", raw_fd_filestat_get(file, (int32_t)(end - 32)));
  show("fd_fdstat_get-oob", raw_fd_fdstat_get(file, OOB));
  show("fd_prestat_get-oob", raw_fd_prestat_get(dir, OOB));
  show("fd_prestat_dir_name-oob", raw_fd_prestat_dir_name(dir, OOB, 64));
  show("clock_time_get-oob", raw_clock_time_get(1, 1, OOB));
  show("clock_time_get-straddles-end", raw_clock_time_get(1, 1, (int32_t)(end - 4)));
  show("clock_res_get-oob", raw_clock_res_get(1, OOB));

  // args / environ.
  show("args_sizes_get-oob", raw_args_sizes_get(OOB, P(out32)));
  show("args_get-argv-oob", raw_args_get(OOB, P(buf)));
  show("args_get-buf-oob", raw_args_get(P(out64), OOB));
  show("environ_sizes_get-oob", raw_environ_sizes_get(P(out32), OOB));
  show("environ_get-env-oob", raw_environ_get(OOB, P(buf)));
  show("environ_get-buf-oob", raw_environ_get(P(out64), OOB));

  // random_get.
  show("random_get-oob", raw_random_get(OOB, 64));
  show("random_get-len-overflow", raw_random_get(P(buf), (int32_t)0xFFFFFFF0));
  show("random_get-straddles-end", raw_random_get(straddle, 8));
  show("random_get-zero-len-at-end", raw_random_get((int32_t)end, 0));

  // Paths.
  show("path_open-path-oob", raw_path_open(dir, 0, OOB, 64, 0, rights, rights, 0, P(out32)));
  show("path_open-path-len-overflow", raw_path_open(dir, 0, P(name), (int32_t)0xFFFFFFF0, 0, rights, rights, 0, P(out32)));
  show("path_open-fd-result-oob", raw_path_open(dir, 0, P(name), (int32_t)strlen(name), 0, rights, rights, 0, OOB));
  show("path_filestat_get-path-oob", raw_path_filestat_get(dir, 0, OOB, 64, P(out64)));
  show("path_filestat_get-result-oob", raw_path_filestat_get(dir, 0, P(name), (int32_t)strlen(name), OOB));
  show("path_create_directory-path-straddles-end", raw_path_create_directory(dir, straddle, 8));
  show("path_readlink-path-oob", raw_path_readlink(dir, OOB, 8, P(buf), 64, P(out32)));
  show("path_symlink-old-oob", raw_path_symlink(OOB, 64, dir, P("oob-link"), 8));
  show("path_rename-new-oob", raw_path_rename(dir, P(name), (int32_t)strlen(name), dir, OOB, 16));

  // fd_readdir.
  show("fd_readdir-buf-oob", raw_fd_readdir(dir, OOB, 64, 0, P(out32)));
  show("fd_readdir-len-overflow", raw_fd_readdir(dir, P(buf), (int32_t)0xFFFFFF00, 0, P(out32)));
  show("fd_readdir-used-oob", raw_fd_readdir(dir, P(buf), sizeof buf, 0, OOB));

  // poll_oneoff: one clock subscription with a zero timeout.
  memset(subs, 0, sizeof subs);
  subs[8] = 0;                          // tag: clock
  subs[16] = 1;                         // clock id: monotonic
  show("poll_oneoff-in-oob", raw_poll_oneoff(OOB, P(events), 1, P(out32)));
  show("poll_oneoff-out-oob", raw_poll_oneoff(P(subs), OOB, 1, P(out32)));
  show("poll_oneoff-nevents-oob", raw_poll_oneoff(P(subs), P(events), 1, OOB));

  // The file was not changed by the rejected writes.
  uint32_t rd[2] = {P(buf), sizeof buf};
  memset(buf, 0, sizeof buf);
  e = raw_fd_pread(file, P(rd), 1, 0, P(out32));
  printf("file-after: %d %u %.*s\n", (int)e, (unsigned)out32[0], (int)out32[0], (const char *)buf);
  // Last, since node:wasi does not return from it.
  show("poll_oneoff-count-huge", raw_poll_oneoff(P(subs), P(events), 0x10000000, P(out32)));
  printf("survived\n");
  return 0;
}
