// bench-calls: per-call cost of one WASI call, for the benchmark (bench/).
//
//   bench-calls OP N
//
// Does OP's setup, then makes N raw WASI calls of kind OP and exits 0. The
// harness times a run with N calls and a run with 0 calls and divides the
// difference by N, so setup, instantiation and exit cancel out. OP is one of:
//   clock    clock_time_get(MONOTONIC)
//   write16  fd_write of 16 B to a regular file; every 64th call is followed
//            by fd_seek(0, SET) so the file stays at 1 KiB (1/64 of a seek
//            is included in the figure)
//   read16   fd_pread of 16 B at offset 0 of a 16 B file
//   stat     path_filestat_get of one existing file, one path component
//   readdir  one full listing of a directory of 1,000 files: fd_readdir
//            from cookie 0 with a 64 KiB buffer (one call when it all fits)
#include "bench-common.h"

static const char usage[] = "usage: bench-calls clock|write16|read16|stat|readdir N";
static uint8_t dirbuf[65536];

// Lists `dir` from cookie 0 and returns the number of entries if `count`.
// Parses the dirents only when asked to count or when the buffer came back
// full, so the next call must resume at the last whole entry's cookie.
static long list_dir(__wasi_fd_t dir, int count) {
  __wasi_dircookie_t cookie = 0;
  long entries = 0;
  for (;;) {
    __wasi_size_t used;
    CHECK("fd_readdir", "big", __wasi_fd_readdir(dir, dirbuf, sizeof dirbuf, cookie, &used));
    if (used < sizeof dirbuf && !count) return 0;
    size_t off = 0;
    long parsed = 0;
    while (off + sizeof(__wasi_dirent_t) <= used) {
      __wasi_dirent_t d;
      memcpy(&d, dirbuf + off, sizeof d);
      if (off + sizeof d + d.d_namlen > used) break;  // truncated: resume at its cookie
      off += sizeof d + d.d_namlen;
      cookie = d.d_next;
      parsed++;
    }
    entries += parsed;
    if (used < sizeof dirbuf) return entries;
    if (parsed == 0) fail_msg("fd_readdir: buffer full but no whole entry");
  }
}

int main(int argc, char **argv) {
  if (argc < 3) fail_msg(usage);
  const char *op = argv[1];
  long n = arg_long(argc, argv, 2, usage);
  __wasi_fd_t root = root_fd();
  __wasi_rights_t rights = child_rights(root);
  static uint8_t data[16] = "0123456789abcdef";

  if (strcmp(op, "clock") == 0) {
    volatile uint64_t sink = 0;
    for (long i = 0; i < n; i++) {
      __wasi_timestamp_t t;
      CHECK("clock_time_get", "", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t));
      sink += t;
    }
    (void)sink;
  } else if (strcmp(op, "write16") == 0) {
    __wasi_fd_t fd = open_at(root, rights, "w16.bin", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
    __wasi_ciovec_t iov = {data, sizeof data};
    for (long i = 0; i < n; i++) {
      __wasi_size_t w;
      CHECK("fd_write", "w16.bin", __wasi_fd_write(fd, &iov, 1, &w));
      if (w != sizeof data) fail_msg("fd_write: short write");
      if ((i & 63) == 63) {
        __wasi_filesize_t pos;
        CHECK("fd_seek", "w16.bin", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
      }
    }
  } else if (strcmp(op, "read16") == 0) {
    __wasi_fd_t fd = open_at(root, rights, "r16.bin", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
    write_all(fd, data, sizeof data, "r16.bin");
    uint8_t buf[16];
    __wasi_iovec_t iov = {buf, sizeof buf};
    for (long i = 0; i < n; i++) {
      __wasi_size_t r;
      CHECK("fd_pread", "r16.bin", __wasi_fd_pread(fd, &iov, 1, 0, &r));
      if (r != sizeof buf) fail_msg("fd_pread: short read");
    }
  } else if (strcmp(op, "stat") == 0) {
    __wasi_fd_t fd = open_at(root, rights, "stat.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
    write_all(fd, data, sizeof data, "stat.txt");
    CHECK("fd_close", "stat.txt", __wasi_fd_close(fd));
    for (long i = 0; i < n; i++) {
      __wasi_filestat_t st;
      CHECK("path_filestat_get", "stat.txt",
            __wasi_path_filestat_get(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "stat.txt", &st));
      if (st.size != sizeof data) fail_msg("path_filestat_get: wrong size");
    }
  } else if (strcmp(op, "readdir") == 0) {
    CHECK("path_create_directory", "big", __wasi_path_create_directory(root, "big"));
    char name[32];
    for (int i = 0; i < 1000; i++) {
      snprintf(name, sizeof name, "big/e%04d", i);
      __wasi_fd_t fd = open_at(root, rights, name, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL);
      CHECK("fd_close", name, __wasi_fd_close(fd));
    }
    __wasi_fd_t dir = open_at(root, dir_rights(rights), "big", __WASI_OFLAGS_DIRECTORY);
    long entries = list_dir(dir, 1);
    if (entries < 1000 || entries > 1002) {
      fprintf(stderr, "fd_readdir big: listed %ld entries, want 1000 (+ . and ..)\n", entries);
      return 2;
    }
    for (long i = 0; i < n; i++) list_dir(dir, 0);
  } else {
    fail_msg(usage);
  }
  printf("ok %s %ld\n", op, n);
  return 0;
}
