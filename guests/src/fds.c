// fds: the fd table. fstat of stdio, fd_renumber (WASI's dup2), EBADF for
// closed and never-opened fds, access modes (reading a write-only fd and the
// reverse), reading a directory fd, and fcntl F_GETFL / F_SETFL.
#include "common.h"
#include <wasi/api.h>

int main(void) {
  mkdir_or_die("/t-fds");
  struct stat st;

  // stdio is open. What kind of file it is depends on how the host wired it,
  // so only success is printed.
  REPORT("fstat-stdin", fstat(0, &st));
  REPORT("fstat-stdout", fstat(1, &st));
  REPORT("fstat-stderr", fstat(2, &st));

  // fd_renumber: `to` is closed and replaced, `from` is gone afterwards.
  write_file("/t-fds/a", "file-a");
  write_file("/t-fds/b", "file-b");
  int a = open("/t-fds/a", O_RDONLY), b = open("/t-fds/b", O_RDONLY);
  report_errno("renumber", __wasi_fd_renumber((__wasi_fd_t)a, (__wasi_fd_t)b));
  char buf[64] = {0};
  printf("read-renumbered: %ld %s\n", (long)read(b, buf, sizeof buf - 1), buf);
  REPORT("read-old-fd", read(a, buf, sizeof buf));
  report_errno("renumber-from-closed", __wasi_fd_renumber((__wasi_fd_t)a, (__wasi_fd_t)b));
  report_errno("renumber-to-closed", __wasi_fd_renumber((__wasi_fd_t)b, (__wasi_fd_t)a));
  report_errno("renumber-to-self", __wasi_fd_renumber((__wasi_fd_t)b, (__wasi_fd_t)b));
  // The renumbered fd keeps its offset.
  lseek(b, 2, SEEK_SET);
  int c = open("/t-fds/b", O_RDONLY);
  report_errno("renumber-keeps-offset", __wasi_fd_renumber((__wasi_fd_t)b, (__wasi_fd_t)c));
  printf("offset-after-renumber: %lld\n", (long long)lseek(c, 0, SEEK_CUR));
  close(c);

  // Closed and never-opened fds.
  int fd = open("/t-fds/a", O_RDONLY);
  REPORT("close", close(fd));
  REPORT("close-again", close(fd));
  REPORT("read-closed", read(fd, buf, 1));
  REPORT("write-closed", write(fd, "x", 1));
  REPORT("fstat-closed", fstat(fd, &st));
  REPORT("fstat-never-opened", fstat(4000, &st));
  REPORT("seek-never-opened", lseek(4000, 0, SEEK_SET));

  // Access modes.
  fd = open("/t-fds/a", O_RDONLY);
  REPORT("write-readonly-fd", write(fd, "x", 1));
  close(fd);
  fd = open("/t-fds/a", O_WRONLY);
  REPORT("read-writeonly-fd", read(fd, buf, 1));
  close(fd);
  print_file("a-unchanged", "/t-fds/a");

  // A directory fd cannot be read like a file.
  fd = open("/t-fds", O_RDONLY | O_DIRECTORY);
  REPORT("read-dir-fd", read(fd, buf, sizeof buf));
  REPORT("fstat-dir-fd", fstat(fd, &st));
  printf("dir-fd-isdir: %s\n", yesno(S_ISDIR(st.st_mode)));
  close(fd);

  // fcntl: F_GETFL reports the access mode and O_APPEND, F_SETFL sets it.
  fd = open("/t-fds/a", O_RDWR);
  int fl = fcntl(fd, F_GETFL);
  printf("getfl-rdwr: accmode-rdwr %s, append %s\n", yesno((fl & O_ACCMODE) == O_RDWR), yesno(fl & O_APPEND));
  REPORT("setfl-append", fcntl(fd, F_SETFL, O_APPEND));
  fl = fcntl(fd, F_GETFL);
  printf("getfl-after-setfl: append %s\n", yesno(fl & O_APPEND));
  write(fd, "+appended", 9);
  close(fd);
  print_file("after-setfl-append", "/t-fds/a");
  fd = open("/t-fds/a", O_WRONLY | O_APPEND);
  fl = fcntl(fd, F_GETFL);
  printf("getfl-wronly-append: accmode-wronly %s, append %s\n", yesno((fl & O_ACCMODE) == O_WRONLY), yesno(fl & O_APPEND));
  close(fd);
  fd = open("/t-fds/a", O_RDONLY);
  fl = fcntl(fd, F_GETFL);
  printf("getfl-rdonly: accmode-rdonly %s\n", yesno((fl & O_ACCMODE) == O_RDONLY));
  close(fd);

  // Many fds at once: each is distinct and usable.
  int fds[64];
  int ok = 1;
  for (int i = 0; i < 64; i++) {
    fds[i] = open("/t-fds/b", O_RDONLY);
    if (fds[i] < 0) ok = 0;
    for (int j = 0; j < i; j++) if (fds[j] == fds[i]) ok = 0;
  }
  for (int i = 0; i < 64; i++) close(fds[i]);
  printf("64-distinct-fds: %s\n", yesno(ok));
  return 0;
}
