// bench-append: cost of appends as a file grows, for the benchmark (bench/).
//
//   bench-append N W
//
// Writes N records of 16 B to the end of a new file with fd_write (the file
// position advances; no O_APPEND, which not every host supports alike), and
// reads the monotonic clock every W writes. Prints one line per window:
//   window I NS        time of writes [I*W, (I+1)*W) in ns
// A host whose append cost stays flat shows the same NS for the first and
// the last window.
#include "bench-common.h"

static const char usage[] = "usage: bench-append N W (N a multiple of W)";

int main(int argc, char **argv) {
  long n = arg_long(argc, argv, 1, usage);
  long w = arg_long(argc, argv, 2, usage);
  if (w == 0 || n % w != 0) fail_msg(usage);
  long windows = n / w;
  uint64_t *ns = calloc((size_t)windows, sizeof *ns);
  if (!ns) fail_msg("out of memory");
  __wasi_fd_t root = root_fd();
  __wasi_fd_t fd = open_at(root, child_rights(root), "append.log",
                           __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
  static uint8_t rec[16] = "appended record\n";
  __wasi_ciovec_t iov = {rec, sizeof rec};
  for (long k = 0; k < windows; k++) {
    uint64_t t0 = now_ns();
    for (long i = 0; i < w; i++) {
      __wasi_size_t put;
      CHECK("fd_write", "append.log", __wasi_fd_write(fd, &iov, 1, &put));
      if (put != sizeof rec) fail_msg("fd_write: short write");
    }
    ns[k] = now_ns() - t0;
  }
  __wasi_filestat_t st;
  CHECK("fd_filestat_get", "append.log", __wasi_fd_filestat_get(fd, &st));
  if (st.size != (uint64_t)n * sizeof rec) fail_msg("append.log has the wrong size");
  for (long k = 0; k < windows; k++) printf("window %ld %llu\n", k, (unsigned long long)ns[k]);
  return 0;
}
