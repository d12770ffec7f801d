// fs-hardlinks: link(): the link count (st_nlink), one inode behind two names
// (st_ino equality, printed as yes/no), writes visible through both names,
// unlink of one name, and the errors (EEXIST, ENOENT, EPERM for directories).
#include "common.h"

static void nlink(const char *label, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) printf("%s: %s\n", label, errname(errno));
  else printf("%s: %lu\n", label, (unsigned long)st.st_nlink);
}

static int same_inode(const char *a, const char *b) {
  struct stat sa, sb;
  if (lstat(a, &sa) != 0 || lstat(b, &sb) != 0) return 0;
  return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

int main(void) {
  mkdir_or_die("/t-hard");
  write_file("/t-hard/f", "first");
  nlink("nlink-before", "/t-hard/f");

  REPORT("link", link("/t-hard/f", "/t-hard/g"));
  nlink("nlink-f", "/t-hard/f");
  nlink("nlink-g", "/t-hard/g");
  printf("same-inode: %s\n", yesno(same_inode("/t-hard/f", "/t-hard/g")));
  write_file("/t-hard/other", "o");
  printf("same-inode-as-other: %s\n", yesno(same_inode("/t-hard/f", "/t-hard/other")));

  // Writing through one name is visible through the other.
  int fd = open("/t-hard/g", O_WRONLY | O_APPEND);
  write(fd, "+second", 7);
  close(fd);
  print_file("read-f", "/t-hard/f");

  // A third name, in another directory.
  mkdir_or_die("/t-hard/sub");
  REPORT("link-other-dir", link("/t-hard/g", "/t-hard/sub/h"));
  nlink("nlink-3", "/t-hard/f");
  printf("same-inode-sub: %s\n", yesno(same_inode("/t-hard/f", "/t-hard/sub/h")));

  // fstat on an open fd sees the link count change.
  fd = open("/t-hard/f", O_RDONLY);
  REPORT("unlink-f", unlink("/t-hard/f"));
  struct stat st;
  fstat(fd, &st);
  printf("fstat-nlink-after-unlink: %lu\n", (unsigned long)st.st_nlink);
  close(fd);
  nlink("nlink-g-after-unlink", "/t-hard/g");
  print_file("read-g-after-unlink", "/t-hard/g");
  REPORT("stat-f-after-unlink", stat("/t-hard/f", &st));

  // Errors.
  REPORT("link-existing-dest", link("/t-hard/g", "/t-hard/other"));
  REPORT("link-missing-src", link("/t-hard/missing", "/t-hard/x"));
  REPORT("link-dir", link("/t-hard/sub", "/t-hard/subl"));
  REPORT("link-into-missing-dir", link("/t-hard/g", "/t-hard/nodir/x"));

  // link() does not follow a symlink source: the new name is a second link
  // to the symlink itself.
  symlink("g", "/t-hard/sym");
  REPORT("link-to-symlink", link("/t-hard/sym", "/t-hard/sym2"));
  printf("link-to-symlink-is-symlink: %s\n", yesno(lstat("/t-hard/sym2", &st) == 0 && S_ISLNK(st.st_mode)));

  // Removing all names but one leaves nlink 1; the data lives on.
  unlink("/t-hard/sub/h");
  nlink("nlink-last", "/t-hard/g");
  print_file("read-last", "/t-hard/g");
  return 0;
}
