// flood: writes argv[1] MiB (default 64) of 'x' to stdout in 64 KiB writes,
// to test output limits. Exits 1 if a write fails (e.g. stdout was cut off).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 64;
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  for (long i = 0; i < mib * 16; i++) {
    for (size_t off = 0; off < sizeof buf;) {
      ssize_t w = write(1, buf + off, sizeof buf - off);
      if (w <= 0) return 1;
      off += (size_t)w;
    }
  }
  return 0;
}
