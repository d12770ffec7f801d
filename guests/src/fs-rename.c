// fs-rename: rename() of files and directories: over an existing file
// (atomic replace, the old inode stays readable through an open fd), over
// empty and non-empty directories, into its own subdirectory (EINVAL),
// file <-> directory mismatches, and two names of one inode.
#include "common.h"

int main(void) {
  mkdir_or_die("/t-ren");

  // Plain rename of a file.
  write_file("/t-ren/a", "A");
  REPORT("rename-file", rename("/t-ren/a", "/t-ren/b"));
  REPORT("stat-old-name", stat("/t-ren/a", (struct stat[1]){0}));
  print_file("read-new-name", "/t-ren/b");

  // Over an existing file: the destination's old data stays readable
  // through an fd opened before the rename.
  write_file("/t-ren/c", "old-c");
  int fd = open("/t-ren/c", O_RDONLY);
  REPORT("rename-over-file", rename("/t-ren/b", "/t-ren/c"));
  print_file("read-replaced", "/t-ren/c");
  char buf[64] = {0};
  read(fd, buf, sizeof buf - 1);
  printf("read-old-through-fd: %s\n", buf);
  close(fd);
  list_dir("after-file-renames", "/t-ren");

  // Across directories.
  mkdir_or_die("/t-ren/d1");
  mkdir_or_die("/t-ren/d2");
  write_file("/t-ren/d1/f", "moved");
  REPORT("rename-across-dirs", rename("/t-ren/d1/f", "/t-ren/d2/g"));
  print_file("read-across", "/t-ren/d2/g");
  list_dir("d1", "/t-ren/d1");

  // Directories: rename, carrying their contents.
  REPORT("rename-dir", rename("/t-ren/d2", "/t-ren/d3"));
  list_dir("d3", "/t-ren/d3");
  REPORT("stat-old-dir", stat("/t-ren/d2", (struct stat[1]){0}));

  // Over an empty directory: allowed.
  mkdir_or_die("/t-ren/empty");
  REPORT("rename-dir-over-empty-dir", rename("/t-ren/d3", "/t-ren/empty"));
  list_dir("empty-now", "/t-ren/empty");

  // Over a non-empty directory: refused (ENOTEMPTY or EEXIST by POSIX).
  mkdir_or_die("/t-ren/full");
  write_file("/t-ren/full/x", "x");
  REPORT("rename-dir-over-nonempty-dir", rename("/t-ren/d1", "/t-ren/full"));
  list_dir("full-untouched", "/t-ren/full");

  // Into its own subdirectory: EINVAL.
  mkdir_or_die("/t-ren/p");
  mkdir_or_die("/t-ren/p/q");
  REPORT("rename-into-own-subdir", rename("/t-ren/p", "/t-ren/p/q/r"));
  REPORT("rename-into-itself", rename("/t-ren/p", "/t-ren/p/r"));

  // File/directory mismatches.
  write_file("/t-ren/file", "f");
  REPORT("rename-file-over-dir", rename("/t-ren/file", "/t-ren/p"));
  REPORT("rename-dir-over-file", rename("/t-ren/p", "/t-ren/file"));
  REPORT("rename-missing", rename("/t-ren/missing", "/t-ren/z"));
  REPORT("rename-into-missing-dir", rename("/t-ren/file", "/t-ren/nodir/z"));
  REPORT("rename-file-as-dir", rename("/t-ren/file", "/t-ren/file2/"));

  // Renaming to itself, or between two links to one inode, does nothing.
  REPORT("rename-to-itself", rename("/t-ren/file", "/t-ren/file"));
  link("/t-ren/file", "/t-ren/file-link");
  REPORT("rename-hardlink-pair", rename("/t-ren/file", "/t-ren/file-link"));
  list_dir("after-hardlink-rename", "/t-ren");

  // Renaming keeps the inode; an fd on a renamed directory still resolves
  // names inside it (fds name inodes, not paths).
  mkdir_or_die("/t-ren/before");
  write_file("/t-ren/before/f", "in-dir");
  struct stat s1, s2;
  stat("/t-ren/before/f", &s1);
  int dfd = open("/t-ren/before", O_RDONLY | O_DIRECTORY);
  REPORT("rename-open-dir", rename("/t-ren/before", "/t-ren/after"));
  stat("/t-ren/after/f", &s2);
  printf("inode-kept-across-rename: %s\n", yesno(s1.st_ino == s2.st_ino));
  int f = REPORT("openat-in-renamed-dir", openat(dfd, "f", O_RDONLY));
  char b[16] = {0};
  if (f >= 0) { read(f, b, sizeof b - 1); close(f); }
  printf("openat-in-renamed-dir-read: %s\n", b);
  f = REPORT("create-in-renamed-dir", openat(dfd, "g", O_WRONLY | O_CREAT, 0644));
  if (f >= 0) close(f);
  close(dfd);
  list_dir("renamed-dir", "/t-ren/after");

  // A symlink is renamed as itself, not its target.
  symlink("file", "/t-ren/sl");
  REPORT("rename-symlink", rename("/t-ren/sl", "/t-ren/sl2"));
  struct stat st;
  printf("renamed-symlink-is-link: %s\n", yesno(lstat("/t-ren/sl2", &st) == 0 && S_ISLNK(st.st_mode)));
  print_file("read-through-renamed-symlink", "/t-ren/sl2");
  return 0;
}
