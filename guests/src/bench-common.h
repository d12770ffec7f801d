// bench-common.h: helpers shared by the bench-*.c guests.
//
// Hot loops call WASI directly (<wasi/api.h>) so that wasi-libc's own work
// (path resolution against preopens, stdio buffering) stays out of the
// figures. Any failed call prints "SYSCALL PATH: wasi errno N (NAME)" to
// stderr and exits 2; the harness shows that as the reason a host could not
// do the case.
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

static inline const char *errno_name(__wasi_errno_t e) {
  switch (e) {
    case __WASI_ERRNO_ACCES: return "EACCES";
    case __WASI_ERRNO_BADF: return "EBADF";
    case __WASI_ERRNO_EXIST: return "EEXIST";
    case __WASI_ERRNO_FAULT: return "EFAULT";
    case __WASI_ERRNO_INVAL: return "EINVAL";
    case __WASI_ERRNO_IO: return "EIO";
    case __WASI_ERRNO_ISDIR: return "EISDIR";
    case __WASI_ERRNO_NAMETOOLONG: return "ENAMETOOLONG";
    case __WASI_ERRNO_NOENT: return "ENOENT";
    case __WASI_ERRNO_NOSPC: return "ENOSPC";
    case __WASI_ERRNO_NOSYS: return "ENOSYS";
    case __WASI_ERRNO_NOTDIR: return "ENOTDIR";
    case __WASI_ERRNO_NOTEMPTY: return "ENOTEMPTY";
    case __WASI_ERRNO_NOTSUP: return "ENOTSUP";
    case __WASI_ERRNO_NOTCAPABLE: return "ENOTCAPABLE";
    case __WASI_ERRNO_PERM: return "EPERM";
    case __WASI_ERRNO_ROFS: return "EROFS";
    default: return "?";
  }
}

static inline _Noreturn void fail(const char *call, const char *path, __wasi_errno_t e) {
  fprintf(stderr, "%s %s: wasi errno %u (%s)\n", call, path ? path : "",
          (unsigned)e, errno_name(e));
  exit(2);
}

static inline _Noreturn void fail_msg(const char *msg) {
  fprintf(stderr, "%s\n", msg);
  exit(2);
}

#define CHECK(call, path, expr)                 \
  do {                                          \
    __wasi_errno_t e_ = (expr);                 \
    if (e_ != __WASI_ERRNO_SUCCESS) fail(call, path, e_); \
  } while (0)

static inline long arg_long(int argc, char **argv, int i, const char *usage) {
  if (i >= argc) fail_msg(usage);
  char *end;
  long v = strtol(argv[i], &end, 10);
  if (*end != '\0' || v < 0) fail_msg(usage);
  return v;
}

// The monotonic clock in ns, as the host reports it.
static inline uint64_t now_ns(void) {
  __wasi_timestamp_t t;
  CHECK("clock_time_get", "", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t));
  return t;
}

// The sandbox root: the last preopened directory named "/" (or "", which is
// how @wasmer/wasi names a directory mapped at "/": it strips the slash, and
// it always installs its own virtual root "/" as fd 3, without the rights to
// create directories or stat paths). Falls back to the first preopened
// directory.
static inline __wasi_fd_t root_fd(void) {
  __wasi_fd_t first = (__wasi_fd_t)-1, root = (__wasi_fd_t)-1;
  for (__wasi_fd_t fd = 3; fd < 256; fd++) {
    __wasi_prestat_t ps;
    __wasi_errno_t e = __wasi_fd_prestat_get(fd, &ps);
    if (e == __WASI_ERRNO_BADF) break;
    if (e != __WASI_ERRNO_SUCCESS || ps.tag != __WASI_PREOPENTYPE_DIR) continue;
    if (first == (__wasi_fd_t)-1) first = fd;
    char name[64];
    size_t n = ps.u.dir.pr_name_len;
    if (n >= sizeof name) continue;
    if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, n) != __WASI_ERRNO_SUCCESS) continue;
    name[n] = '\0';
    if (strcmp(name, "/") == 0 || n == 0) root = fd;
  }
  if (root != (__wasi_fd_t)-1) return root;
  if (first == (__wasi_fd_t)-1) fail_msg("no preopened directory");
  return first;
}

// Rights to request for anything opened under `dir`: what the directory lets
// its children inherit, as wasi-libc does. Some hosts report no rights at
// all; they do not check rights either, so ask for everything.
static inline __wasi_rights_t child_rights(__wasi_fd_t dir) {
  __wasi_fdstat_t st;
  CHECK("fd_fdstat_get", "", __wasi_fd_fdstat_get(dir, &st));
  return st.fs_rights_inheriting ? st.fs_rights_inheriting : ~(__wasi_rights_t)0;
}

// Rights for opening a directory: the write rights make some hosts open the
// host directory for writing, which fails with EISDIR.
static inline __wasi_rights_t dir_rights(__wasi_rights_t r) {
  return r & ~(__wasi_rights_t)(__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_DATASYNC |
                                __WASI_RIGHTS_FD_SYNC | __WASI_RIGHTS_FD_ALLOCATE |
                                __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);
}

static inline __wasi_fd_t open_at(__wasi_fd_t dir, __wasi_rights_t rights, const char *path,
                           __wasi_oflags_t oflags) {
  __wasi_fd_t fd;
  CHECK("path_open", path, __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path,
                                            oflags, rights, rights, 0, &fd));
  return fd;
}

// Writes all of buf[0..len) at the current position.
static inline void write_all(__wasi_fd_t fd, const uint8_t *buf, size_t len, const char *what) {
  while (len > 0) {
    __wasi_ciovec_t iov = {buf, len};
    __wasi_size_t n;
    CHECK("fd_write", what, __wasi_fd_write(fd, &iov, 1, &n));
    if (n == 0) fail("fd_write", what, __WASI_ERRNO_IO);
    buf += n;
    len -= n;
  }
}

#endif
