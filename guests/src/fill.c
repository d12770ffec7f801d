// fill: writes 64 KiB blocks to argv[1] (default /fill) until a write fails,
// then prints "wrote N bytes then ERRNAME" and exits 0. Used to check that a
// full tmpfs gives ENOSPC inside the guest and the host keeps running.
#include "common.h"

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/fill";
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    printf("open: %s\n", errname(errno));
    return 1;
  }
  static char block[65536];
  memset(block, 'f', sizeof block);
  long total = 0;
  const char *err = "none";
  for (;;) {
    ssize_t n = write(fd, block, sizeof block);
    if (n < 0) {
      err = errname(errno);
      break;
    }
    total += n;
    if (n < (ssize_t)sizeof block) continue;
  }
  close(fd);
  printf("wrote %ld bytes then %s\n", total, err);
  return 0;
}
