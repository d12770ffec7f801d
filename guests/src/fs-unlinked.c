// fs-unlinked: a file unlinked while open stays usable through its fd
// (read, write, seek, truncate, fstat with nlink 0) and is independent of a
// new file created under the same name. Also a directory removed while open:
// fstat still works, and nothing can be created in it.
#include "common.h"

int main(void) {
  mkdir_or_die("/t-unlinked");
  int fd = open("/t-unlinked/f", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  write(fd, "before-unlink", 13);
  int fd2 = open("/t-unlinked/f", O_RDONLY);

  REPORT("unlink", unlink("/t-unlinked/f"));
  REPORT("stat-after-unlink", stat("/t-unlinked/f", (struct stat[1]){0}));
  list_dir("dir-after-unlink", "/t-unlinked");

  struct stat st;
  REPORT("fstat-unlinked", fstat(fd, &st));
  printf("fstat: nlink %lu, size %lld, reg %s\n", (unsigned long)st.st_nlink,
         (long long)st.st_size, yesno(S_ISREG(st.st_mode)));

  char buf[64] = {0};
  lseek(fd, 0, SEEK_SET);
  printf("read-back: %ld %s\n", (long)read(fd, buf, sizeof buf - 1), buf);
  printf("write-more: %ld\n", (long)write(fd, "+after", 6));
  memset(buf, 0, sizeof buf);
  printf("read-other-fd: %ld %s\n", (long)read(fd2, buf, sizeof buf - 1), buf);
  REPORT("ftruncate-unlinked", ftruncate(fd, 6));
  fstat(fd, &st);
  printf("size-after-truncate: %lld\n", (long long)st.st_size);

  // A new file under the old name is a different file.
  write_file("/t-unlinked/f", "new-file");
  print_file("new-file", "/t-unlinked/f");
  memset(buf, 0, sizeof buf);
  printf("old-fd-still-old: %ld %s\n", (long)pread(fd, buf, sizeof buf - 1, 0), buf);
  struct stat st_new;
  stat("/t-unlinked/f", &st_new);
  fstat(fd, &st);
  printf("different-inode: %s\n", yesno(st.st_ino != st_new.st_ino));
  REPORT("close", close(fd));
  REPORT("close-second", close(fd2));

  // A hardlinked file unlinked by one name keeps nlink 1 and its data.
  write_file("/t-unlinked/h", "linked");
  link("/t-unlinked/h", "/t-unlinked/h2");
  fd = open("/t-unlinked/h", O_RDONLY);
  unlink("/t-unlinked/h");
  fstat(fd, &st);
  printf("hardlinked-nlink: %lu\n", (unsigned long)st.st_nlink);
  close(fd);

  // A directory removed while open: fstat still works, creating inside fails.
  mkdir_or_die("/t-unlinked/d");
  int dfd = open("/t-unlinked/d", O_RDONLY | O_DIRECTORY);
  REPORT("rmdir-open-dir", rmdir("/t-unlinked/d"));
  REPORT("fstat-removed-dir", fstat(dfd, &st));
  printf("removed-dir-isdir: %s\n", yesno(S_ISDIR(st.st_mode)));
  REPORT("create-in-removed-dir", openat(dfd, "x", O_WRONLY | O_CREAT, 0644));
  close(dfd);
  list_dir("final", "/t-unlinked");
  return 0;
}
