// fs-files: open flags (O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY,
// access modes) and plain read/write, with their error cases.
#include "common.h"
#include <stdint.h>
#include <sys/uio.h>

int main(void) {
  mkdir_or_die("/t-files");
  char buf[256];

  // O_CREAT makes a new file; O_EXCL refuses an existing one.
  int fd = REPORT("create", open("/t-files/a", O_WRONLY | O_CREAT | O_EXCL, 0644));
  printf("write: %ld\n", (long)write(fd, "hello", 5));
  close(fd);
  REPORT("create-excl-existing", open("/t-files/a", O_WRONLY | O_CREAT | O_EXCL, 0644));
  REPORT("open-missing", open("/t-files/missing", O_RDONLY));
  REPORT("open-missing-parent", open("/t-files/nodir/x", O_RDONLY | O_CREAT, 0644));
  print_file("content", "/t-files/a");

  // O_CREAT without O_EXCL on an existing file opens it, untouched.
  fd = REPORT("create-existing", open("/t-files/a", O_RDWR | O_CREAT, 0644));
  close(fd);
  print_file("content-after-creat", "/t-files/a");

  // Reads stop at EOF with 0.
  fd = open("/t-files/a", O_RDONLY);
  printf("read-all: %ld\n", (long)read(fd, buf, sizeof buf));
  printf("read-eof: %ld\n", (long)read(fd, buf, sizeof buf));
  printf("read-zero-len: %ld\n", (long)read(fd, buf, 0));
  close(fd);

  // O_TRUNC empties an existing file.
  fd = REPORT("open-trunc", open("/t-files/a", O_WRONLY | O_TRUNC));
  close(fd);
  printf("size-after-trunc: %lld\n", file_size("/t-files/a"));

  // O_APPEND writes at the end whatever the offset.
  write_file("/t-files/log", "one\n");
  fd = REPORT("open-append", open("/t-files/log", O_WRONLY | O_APPEND));
  lseek(fd, 0, SEEK_SET);
  write(fd, "two\n", 4);
  printf("append-offset-after-write: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  close(fd);
  print_file("append-content", "/t-files/log");

  // O_RDWR round trip through one fd.
  fd = open("/t-files/rw", O_RDWR | O_CREAT | O_TRUNC, 0644);
  write(fd, "abcdef", 6);
  lseek(fd, 2, SEEK_SET);
  memset(buf, 0, sizeof buf);
  read(fd, buf, 3);
  printf("rdwr-read: %s\n", buf);
  write(fd, "XY", 2);  // lands after the 3 bytes just read
  close(fd);
  print_file("rdwr-content", "/t-files/rw");

  // writev / readv gather and scatter, zero-length iovecs included.
  fd = open("/t-files/vec", O_RDWR | O_CREAT | O_TRUNC, 0644);
  struct iovec wv[4] = {{"ab", 2}, {"", 0}, {"cde", 3}, {"f", 1}};
  printf("writev: %ld\n", (long)writev(fd, wv, 4));
  lseek(fd, 0, SEEK_SET);
  char v1[2] = {0}, v2[8] = {0};
  struct iovec rv[3] = {{v1, 1}, {NULL, 0}, {v2, 7}};
  printf("readv: %ld, parts \"%.1s\" \"%s\"\n", (long)readv(fd, rv, 3), v1, v2);
  close(fd);

  // O_DIRECTORY: only directories.
  mkdir_or_die("/t-files/d");
  REPORT("open-directory-on-file", open("/t-files/a", O_RDONLY | O_DIRECTORY));
  fd = REPORT("open-directory-on-dir", open("/t-files/d", O_RDONLY | O_DIRECTORY));
  close(fd);
  REPORT("open-dir-for-write", open("/t-files/d", O_WRONLY));
  REPORT("open-dir-for-rdwr", open("/t-files/d", O_RDWR));
  REPORT("open-file-as-parent", open("/t-files/a/x", O_RDONLY));
  REPORT("open-file-trailing-slash", open("/t-files/a/", O_RDONLY));
  REPORT("create-excl-on-dir", open("/t-files/d", O_WRONLY | O_CREAT | O_EXCL, 0644));

  // A larger file, written in odd-sized chunks and read back in others.
  fd = open("/t-files/big", O_RDWR | O_CREAT | O_TRUNC, 0644);
  static unsigned char big[100000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + i / 251);
  size_t off = 0;
  while (off < sizeof big) {
    size_t n = sizeof big - off < 777 ? sizeof big - off : 777;
    if (write(fd, big + off, n) != (ssize_t)n) die("write big");
    off += n;
  }
  lseek(fd, 0, SEEK_SET);
  uint32_t sum = 0;  // 32-bit on every target, so the value is portable
  unsigned long total = 0;
  ssize_t n;
  unsigned char chunk[4093];
  int same = 1;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      if (chunk[i] != big[total + (size_t)i]) same = 0;
      sum = sum * 31 + chunk[i];
    }
    total += (unsigned long)n;
  }
  close(fd);
  printf("big: %lu bytes, same: %s, sum %lu\n", total, yesno(same), (unsigned long)sum);
  printf("big-size: %lld\n", file_size("/t-files/big"));

  // Empty file: open, read 0.
  fd = open("/t-files/empty", O_RDWR | O_CREAT, 0644);
  printf("empty-read: %ld\n", (long)read(fd, buf, sizeof buf));
  close(fd);

  // stat of a regular file.
  struct stat st;
  stat("/t-files/rw", &st);
  printf("stat-rw: reg %s, size %lld, nlink %lu\n", yesno(S_ISREG(st.st_mode)),
         (long long)st.st_size, (unsigned long)st.st_nlink);
  return 0;
}
