// bench-meta: metadata throughput, for the benchmark (bench/).
//
//   bench-meta FILES DIRS
//
// Makes DIRS directories d00..., then runs four timed phases over FILES
// files, file i living in directory i % DIRS:
//   create  path_open(CREAT|EXCL) dK/fI, fd_write 16 B, fd_close
//   stat    path_filestat_get dK/fI (and checks the size)
//   rename  path_rename dK/fI -> dK+1/gI (into the next directory)
//   unlink  path_unlink_file dK+1/gI
// Paths are formatted before the clock starts. Prints "PHASE NS" per phase.
#include "bench-common.h"

static const char usage[] = "usage: bench-meta FILES DIRS";

int main(int argc, char **argv) {
  long files = arg_long(argc, argv, 1, usage);
  long dirs = arg_long(argc, argv, 2, usage);
  if (dirs == 0 || dirs > 10000) fail_msg(usage);
  __wasi_fd_t root = root_fd();
  __wasi_rights_t rights = child_rights(root);
  char (*from)[24] = calloc((size_t)files + 1, sizeof *from);
  char (*to)[24] = calloc((size_t)files + 1, sizeof *to);
  if (!from || !to) fail_msg("out of memory");
  for (long d = 0; d < dirs; d++) {
    char name[16];
    snprintf(name, sizeof name, "d%02ld", d);
    CHECK("path_create_directory", name, __wasi_path_create_directory(root, name));
  }
  for (long i = 0; i < files; i++) {
    snprintf(from[i], sizeof from[i], "d%02ld/f%05ld", i % dirs, i);
    snprintf(to[i], sizeof to[i], "d%02ld/g%05ld", (i + 1) % dirs, i);
  }
  static uint8_t data[16] = "sixteen bytes!!\n";
  __wasi_ciovec_t iov = {data, sizeof data};

  uint64_t t0 = now_ns();
  for (long i = 0; i < files; i++) {
    __wasi_fd_t fd = open_at(root, rights, from[i], __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL);
    __wasi_size_t put;
    CHECK("fd_write", from[i], __wasi_fd_write(fd, &iov, 1, &put));
    if (put != sizeof data) fail_msg("fd_write: short write");
    CHECK("fd_close", from[i], __wasi_fd_close(fd));
  }
  uint64_t t1 = now_ns();
  for (long i = 0; i < files; i++) {
    __wasi_filestat_t st;
    CHECK("path_filestat_get", from[i],
          __wasi_path_filestat_get(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, from[i], &st));
    if (st.size != sizeof data) fail_msg("path_filestat_get: wrong size");
  }
  uint64_t t2 = now_ns();
  for (long i = 0; i < files; i++) {
    CHECK("path_rename", from[i], __wasi_path_rename(root, from[i], root, to[i]));
  }
  uint64_t t3 = now_ns();
  for (long i = 0; i < files; i++) {
    CHECK("path_unlink_file", to[i], __wasi_path_unlink_file(root, to[i]));
  }
  uint64_t t4 = now_ns();
  printf("create %llu\nstat %llu\nrename %llu\nunlink %llu\n", (unsigned long long)(t1 - t0),
         (unsigned long long)(t2 - t1), (unsigned long long)(t3 - t2),
         (unsigned long long)(t4 - t3));
  return 0;
}
