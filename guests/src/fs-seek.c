// fs-seek: lseek (SEEK_SET/CUR/END, errors), pread/pwrite (which leave the
// offset alone), and a seek past EOF followed by a write, which leaves a
// zero-filled hole.
#include "common.h"

static void show(const char *label, int fd) {
  printf("%s: %lld\n", label, (long long)lseek(fd, 0, SEEK_CUR));
}

int main(void) {
  mkdir_or_die("/t-seek");
  int fd = open("/t-seek/f", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  write(fd, "0123456789", 10);
  show("tell-after-write", fd);

  char buf[32] = {0};
  printf("seek-set-3: %lld\n", (long long)lseek(fd, 3, SEEK_SET));
  read(fd, buf, 2);
  printf("read-at-3: %s\n", buf);
  show("tell-after-read", fd);
  printf("seek-cur+2: %lld\n", (long long)lseek(fd, 2, SEEK_CUR));
  printf("seek-cur-4: %lld\n", (long long)lseek(fd, -4, SEEK_CUR));
  printf("seek-end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
  printf("seek-end-2: %lld\n", (long long)lseek(fd, -2, SEEK_END));
  memset(buf, 0, sizeof buf);
  read(fd, buf, sizeof buf);
  printf("read-at-end-2: %s\n", buf);

  // Errors: a negative resulting offset and a bad whence are EINVAL; the
  // offset is unchanged by a failed seek.
  lseek(fd, 5, SEEK_SET);
  REPORT("seek-negative", lseek(fd, -1, SEEK_SET));
  REPORT("seek-cur-before-start", lseek(fd, -6, SEEK_CUR));
  REPORT("seek-bad-whence", lseek(fd, 0, 42));
  show("tell-after-failed-seeks", fd);

  // pread / pwrite at explicit offsets, the fd offset stays put.
  memset(buf, 0, sizeof buf);
  printf("pread-2-3: %ld\n", (long)pread(fd, buf, 3, 2));
  printf("pread-data: %s\n", buf);
  printf("pwrite-0: %ld\n", (long)pwrite(fd, "AB", 2, 0));
  show("tell-after-pread-pwrite", fd);
  printf("pread-past-eof: %ld\n", (long)pread(fd, buf, 3, 100));
  REPORT("pread-negative", pread(fd, buf, 3, -1));
  print_file("content", "/t-seek/f");

  // pwrite past EOF extends the file with a hole.
  printf("pwrite-at-15: %ld\n", (long)pwrite(fd, "P", 1, 15));
  printf("size-after-pwrite: %lld\n", file_size("/t-seek/f"));

  // Seeking past EOF does not change the size; writing there fills the gap
  // with zeros.
  printf("seek-past-eof: %lld\n", (long long)lseek(fd, 100, SEEK_SET));
  printf("size-after-seek-past-eof: %lld\n", file_size("/t-seek/f"));
  printf("read-past-eof: %ld\n", (long)read(fd, buf, sizeof buf));
  write(fd, "X", 1);
  printf("size-after-write-past-eof: %lld\n", file_size("/t-seek/f"));
  unsigned char hole[101];
  printf("pread-all: %ld\n", (long)pread(fd, hole, sizeof hole, 0));
  int zeros = 1;
  for (int i = 16; i < 100; i++) if (hole[i] != 0) zeros = 0;
  printf("hole-zero: %s, byte-100: %c\n", yesno(zeros), hole[100]);
  close(fd);

  // A second fd on the same file has its own offset.
  int a = open("/t-seek/f", O_RDONLY), b = open("/t-seek/f", O_RDONLY);
  lseek(a, 4, SEEK_SET);
  show("fd-a", a);
  show("fd-b", b);
  close(a);
  close(b);

  // Seeking a closed fd is EBADF.
  REPORT("seek-closed", lseek(fd, 0, SEEK_SET));
  return 0;
}
