// churn: makes syscalls in a loop until it is stopped, for kill and
// worker-pool tests. `churn fs DIR` creates, writes, renames, links and
// removes files and directories under DIR (which must exist) forever;
// `churn sleep MS` sleeps MS milliseconds (poll_oneoff) forever; `churn
// stat` stats `/` forever. Prints "churning" to stdout once it starts.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fs_round(const char *dir, long i) {
  char a[256], b[256], d[256], l[256];
  snprintf(a, sizeof a, "%s/a%ld", dir, i % 7);
  snprintf(b, sizeof b, "%s/b%ld", dir, i % 5);
  snprintf(d, sizeof d, "%s/d%ld", dir, i % 3);
  snprintf(l, sizeof l, "%s/l%ld", dir, i % 4);
  static char block[3000];
  memset(block, 'c', sizeof block);
  int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    write(fd, block, (size_t)(i % 3000) + 1);
    close(fd);
  }
  rename(a, b);
  link(b, l);
  mkdir(d, 0755);
  if (i % 2) rmdir(d);
  unlink(l);
  if (i % 3 == 0) unlink(b);
  fd = open(b, O_RDWR);
  if (fd >= 0) {
    unlink(b);
    write(fd, block, 100);
    ftruncate(fd, (off_t)(i % 500));
    close(fd);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "stat";
  printf("churning\n");
  fflush(stdout);
  if (strcmp(mode, "fs") == 0) {
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    for (long i = 0;; i++) fs_round(dir, i);
  }
  if (strcmp(mode, "sleep") == 0) {
    long ms = argc > 2 ? atol(argv[2]) : 1;
    for (;;) usleep((useconds_t)(ms * 1000));
  }
  struct stat st;
  for (;;) stat("/", &st);
}
