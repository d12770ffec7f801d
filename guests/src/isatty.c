// isatty: what the guest's stdio is. For fds 0, 1 and 2 it prints
// "isatty(N): 1" or "isatty(N): 0 ENOTTY". wasi-libc's isatty says 1 only for
// a character device without the seek and tell rights, so this shows whether
// the host reports a stream as a terminal.
//
// The order of its output in a merged log shows libc's buffering, which
// follows from that: after the three lines to stdout it writes "stderr line"
// to stderr (never buffered), then "stdout end" to stdout. musl decides at
// stdout's first write, which goes out at once; after it, a terminal's
// stdout is line-buffered (the log reads the three lines, the stderr line,
// "stdout end"), any other stdout fully buffered and flushed at exit (the
// first line, the stderr line, then the rest).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  for (int fd = 0; fd <= 2; fd++) {
    errno = 0;
    int t = isatty(fd);
    if (t) printf("isatty(%d): 1\n", fd);
    else printf("isatty(%d): 0 %s\n", fd, errno == ENOTTY ? "ENOTTY" : errno == EBADF ? "EBADF" : "E?");
  }
  fputs("stderr line\n", stderr);
  printf("stdout end\n");
  return 0;
}
