// cat: copies stdin to stdout until EOF, handling short writes. Prints
// nothing else; exits 1 (with a message on stderr) if a read or write fails.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  static char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) { fprintf(stderr, "cat: read: %s\n", strerror(errno)); return 1; }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, (size_t)(n - off));
      if (w < 0) { fprintf(stderr, "cat: write: %s\n", strerror(errno)); return 1; }
      off += w;
    }
  }
}
