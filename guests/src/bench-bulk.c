// bench-bulk: bulk file I/O, for the benchmark (bench/).
//
//   bench-bulk MIB CHUNK_KIB
//
// Writes MIB MiB to a new file in CHUNK_KIB KiB fd_write calls, seeks back,
// and reads it all again in fd_read calls of the same size. Each chunk starts
// with its index, which the read phase checks. Prints "write NS" and
// "read NS".
#include "bench-common.h"

static const char usage[] = "usage: bench-bulk MIB CHUNK_KIB";

int main(int argc, char **argv) {
  long mib = arg_long(argc, argv, 1, usage);
  long kib = arg_long(argc, argv, 2, usage);
  if (kib == 0 || (mib * 1024) % kib != 0) fail_msg(usage);
  size_t chunk = (size_t)kib * 1024;
  long chunks = mib * 1024 / kib;
  uint8_t *buf = malloc(chunk);
  if (!buf) fail_msg("out of memory");
  for (size_t i = 0; i < chunk; i++) buf[i] = (uint8_t)(i * 131 + 7);
  __wasi_fd_t root = root_fd();
  __wasi_fd_t fd = open_at(root, child_rights(root), "bulk.bin",
                           __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);

  uint64_t t0 = now_ns();
  for (long c = 0; c < chunks; c++) {
    memcpy(buf, &c, sizeof c);
    write_all(fd, buf, chunk, "bulk.bin");
  }
  uint64_t t1 = now_ns();
  __wasi_filesize_t pos;
  CHECK("fd_seek", "bulk.bin", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
  uint64_t t2 = now_ns();
  for (long c = 0; c < chunks; c++) {
    size_t got = 0;
    while (got < chunk) {
      __wasi_iovec_t iov = {buf + got, chunk - got};
      __wasi_size_t r;
      CHECK("fd_read", "bulk.bin", __wasi_fd_read(fd, &iov, 1, &r));
      if (r == 0) fail_msg("fd_read bulk.bin: early end of file");
      got += r;
    }
    long idx;
    memcpy(&idx, buf, sizeof idx);
    if (idx != c) fail_msg("fd_read bulk.bin: chunk came back out of order");
  }
  uint64_t t3 = now_ns();
  printf("write %llu\nread %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)(t3 - t2));
  return 0;
}
