// fs-truncate: ftruncate (shrink, grow with zeros, offset untouched),
// truncate by path, and the errors (negative length, read-only fd).
#include "common.h"

int main(void) {
  mkdir_or_die("/t-trunc");
  int fd = open("/t-trunc/f", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  write(fd, "hello world", 11);

  REPORT("ftruncate-shrink", ftruncate(fd, 5));
  printf("size: %lld\n", file_size("/t-trunc/f"));
  printf("offset-unchanged: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  print_file("content", "/t-trunc/f");

  REPORT("ftruncate-grow", ftruncate(fd, 9));
  printf("size: %lld\n", file_size("/t-trunc/f"));
  print_file("content-grown", "/t-trunc/f");

  // Writing at the old offset (11) after shrinking leaves a zero gap.
  write(fd, "!", 1);
  print_file("content-after-write", "/t-trunc/f");

  REPORT("ftruncate-zero", ftruncate(fd, 0));
  printf("size: %lld\n", file_size("/t-trunc/f"));
  REPORT("ftruncate-negative", ftruncate(fd, -1));
  REPORT("ftruncate-big", ftruncate(fd, 1 << 20));
  printf("size: %lld\n", file_size("/t-trunc/f"));
  char tail[4] = {1, 1, 1, 1};
  pread(fd, tail, 4, (1 << 20) - 4);
  printf("tail-zero: %s\n", yesno(!tail[0] && !tail[1] && !tail[2] && !tail[3]));
  close(fd);

  // truncate() by path.
  write_file("/t-trunc/g", "abcdefgh");
  REPORT("truncate-path", truncate("/t-trunc/g", 3));
  print_file("content-g", "/t-trunc/g");
  REPORT("truncate-missing", truncate("/t-trunc/missing", 3));
  mkdir_or_die("/t-trunc/d");
  REPORT("truncate-dir", truncate("/t-trunc/d", 0));

  // A read-only fd cannot be truncated.
  fd = open("/t-trunc/g", O_RDONLY);
  REPORT("ftruncate-readonly", ftruncate(fd, 0));
  close(fd);
  print_file("content-g-after", "/t-trunc/g");
  return 0;
}
