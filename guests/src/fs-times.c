// fs-times: futimens / utimensat with explicit values, UTIME_OMIT and
// UTIME_NOW, and the timestamps that writes and directory changes update.
// Only explicit values and relations ("mtime>=before") are printed, never
// the current time.
#include "common.h"
#include <time.h>
#include <wasi/api.h>

#define SEC_NS 1000000000ULL  // nanoseconds per second

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return ns(t);
}

// File timestamps come from the kernel's coarse clock, which may lag
// CLOCK_REALTIME by a tick, so "now" relations allow one second of slack.
#define SLACK 1000000000LL

static void show(const char *label, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) { printf("%s: %s\n", label, errname(errno)); return; }
  printf("%s: atime %lld.%09ld mtime %lld.%09ld\n", label, (long long)st.st_atim.tv_sec,
         st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int main(void) {
  mkdir_or_die("/t-times");
  write_file("/t-times/f", "data");
  struct stat st;

  // Explicit values, whole seconds (nanoseconds are checked separately
  // below, since not every host keeps them).
  struct timespec ts[2] = {{1000000000, 0}, {1200000000, 0}};
  REPORT("utimensat-explicit", utimensat(AT_FDCWD, "/t-times/f", ts, 0));
  show("explicit", "/t-times/f");

  // Nanosecond precision.
  struct timespec tns[2] = {{1000000001, 123456789}, {1200000002, 987654321}};
  REPORT("utimensat-nanoseconds", utimensat(AT_FDCWD, "/t-times/f", tns, 0));
  show("nanoseconds", "/t-times/f");

  // UTIME_OMIT leaves that time alone, UTIME_NOW sets the current time.
  // These go through the raw calls: Debian's wasi-libc (2022-05) rejects
  // UTIME_OMIT / UTIME_NOW in the mtime slot with EINVAL and mishandles
  // times == NULL, before ever calling the host.
  int dir = open("/t-times", O_RDONLY | O_DIRECTORY);
  int fd = open("/t-times/f", O_RDWR);
  utimensat(AT_FDCWD, "/t-times/f", ts, 0);
  report_errno("path-omit-atime", __wasi_path_filestat_set_times(
      (__wasi_fd_t)dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "f", 0, 1300000000 * SEC_NS, __WASI_FSTFLAGS_MTIM));
  show("omit-atime", "/t-times/f");
  report_errno("fd-omit-mtime", __wasi_fd_filestat_set_times(
      (__wasi_fd_t)fd, 1100000000 * SEC_NS, 0, __WASI_FSTFLAGS_ATIM));
  show("omit-mtime", "/t-times/f");
  report_errno("fd-omit-both", __wasi_fd_filestat_set_times((__wasi_fd_t)fd, 0, 0, 0));
  show("omit-both", "/t-times/f");
  report_errno("fd-atim-and-atim-now", __wasi_fd_filestat_set_times(
      (__wasi_fd_t)fd, 1100000000 * SEC_NS, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
  show("after-invalid-flags", "/t-times/f");

  long long before = now_ns();
  report_errno("fd-now-mtime", __wasi_fd_filestat_set_times(
      (__wasi_fd_t)fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
  long long after = now_ns();
  fstat(fd, &st);
  printf("now-mtime: atime kept %s, mtime>=before %s, mtime<=after %s\n",
         yesno(st.st_atim.tv_sec == 1100000000), yesno(ns(st.st_mtim) >= before - SLACK),
         yesno(ns(st.st_mtim) <= after + SLACK));

  utimensat(AT_FDCWD, "/t-times/f", ts, 0);
  before = now_ns();
  report_errno("path-now-both", __wasi_path_filestat_set_times(
      (__wasi_fd_t)dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "f", 0, 0,
      __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
  stat("/t-times/f", &st);
  printf("now-both: atime>=before %s, mtime>=before %s\n",
         yesno(ns(st.st_atim) >= before - SLACK), yesno(ns(st.st_mtim) >= before - SLACK));
  // UTIME_NOW in the atime slot works through libc.
  utimensat(AT_FDCWD, "/t-times/f", ts, 0);
  struct timespec now_a[2] = {{0, UTIME_NOW}, {1200000000, 0}};
  REPORT("futimens-now-atime", futimens(fd, now_a));
  fstat(fd, &st);
  printf("now-atime: atime>=before %s, mtime kept %s\n", yesno(ns(st.st_atim) >= before - SLACK),
         yesno(st.st_mtim.tv_sec == 1200000000));

  // Setting times updates ctime to now.
  utimensat(AT_FDCWD, "/t-times/f", ts, 0);
  stat("/t-times/f", &st);
  printf("ctime-after-utimens>=before: %s\n", yesno(ns(st.st_ctim) >= before - SLACK));

  // A write updates mtime (and ctime).
  utimensat(AT_FDCWD, "/t-times/f", ts, 0);
  before = now_ns();
  write(fd, "more", 4);
  fstat(fd, &st);
  printf("write-updates-mtime: %s\n", yesno(ns(st.st_mtim) >= before - SLACK));
  // ftruncate updates mtime too.
  utimensat(AT_FDCWD, "/t-times/f", ts, 0);
  ftruncate(fd, 1);
  fstat(fd, &st);
  printf("ftruncate-updates-mtime: %s\n", yesno(ns(st.st_mtim) >= before - SLACK));
  close(fd);

  // Creating or removing an entry updates the directory's mtime.
  mkdir_or_die("/t-times/d");
  utimensat(AT_FDCWD, "/t-times/d", ts, 0);
  write_file("/t-times/d/new", "");
  stat("/t-times/d", &st);
  printf("dir-mtime-after-create: %s\n", yesno(ns(st.st_mtim) >= before - SLACK));
  utimensat(AT_FDCWD, "/t-times/d", ts, 0);
  unlink("/t-times/d/new");
  stat("/t-times/d", &st);
  printf("dir-mtime-after-unlink: %s\n", yesno(ns(st.st_mtim) >= before - SLACK));
  utimensat(AT_FDCWD, "/t-times/d", ts, 0);
  show("dir-explicit", "/t-times/d");

  // AT_SYMLINK_NOFOLLOW sets the link's own times, not the target's.
  utimensat(AT_FDCWD, "/t-times/f", ts, 0);
  symlink("f", "/t-times/link");
  struct timespec lts[2] = {{1400000000, 0}, {1500000000, 0}};
  REPORT("utimensat-nofollow", utimensat(AT_FDCWD, "/t-times/link", lts, AT_SYMLINK_NOFOLLOW));
  lstat("/t-times/link", &st);
  printf("link-own-mtime: %lld\n", (long long)st.st_mtim.tv_sec);
  show("target-after-nofollow", "/t-times/f");
  REPORT("utimensat-follow", utimensat(AT_FDCWD, "/t-times/link", lts, 0));
  show("target-after-follow", "/t-times/f");

  REPORT("utimensat-missing", utimensat(AT_FDCWD, "/t-times/missing", ts, 0));
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  REPORT("utimensat-bad-nsec", utimensat(AT_FDCWD, "/t-times/f", bad, 0));
  return 0;
}
