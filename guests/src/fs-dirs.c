// fs-dirs: mkdir / rmdir / unlink on directories and their errors
// (EEXIST, ENOENT, ENOTDIR, ENOTEMPTY, EISDIR), plus chdir and relative paths.
#include "common.h"

int main(void) {
  REPORT("mkdir", mkdir("/t-dirs", 0755));
  REPORT("mkdir-again", mkdir("/t-dirs", 0755));
  REPORT("mkdir-missing-parent", mkdir("/t-dirs/no/such", 0755));
  write_file("/t-dirs/file", "x");
  REPORT("mkdir-under-file", mkdir("/t-dirs/file/sub", 0755));
  REPORT("mkdir-over-file", mkdir("/t-dirs/file", 0755));
  REPORT("mkdir-trailing-slash", mkdir("/t-dirs/slash/", 0755));
  REPORT("mkdir-nested", mkdir("/t-dirs/a", 0755) | mkdir("/t-dirs/a/b", 0755));

  struct stat st;
  REPORT("stat-dir", stat("/t-dirs/a", &st));
  printf("stat-dir-isdir: %s\n", yesno(S_ISDIR(st.st_mode)));
  REPORT("stat-dir-trailing-slash", stat("/t-dirs/a/", &st));
  REPORT("stat-file-trailing-slash", stat("/t-dirs/file/", &st));

  REPORT("rmdir-nonempty", rmdir("/t-dirs/a"));
  REPORT("rmdir-file", rmdir("/t-dirs/file"));
  REPORT("rmdir-missing", rmdir("/t-dirs/missing"));
  REPORT("unlink-dir", unlink("/t-dirs/a/b"));
  REPORT("unlink-missing", unlink("/t-dirs/missing"));
  REPORT("rmdir-leaf", rmdir("/t-dirs/a/b"));
  REPORT("rmdir-now-empty", rmdir("/t-dirs/a"));
  REPORT("stat-removed", stat("/t-dirs/a", &st));
  REPORT("rmdir-trailing-slash", rmdir("/t-dirs/slash/"));
  REPORT("unlink-file", unlink("/t-dirs/file"));
  REPORT("unlink-file-again", unlink("/t-dirs/file"));
  list_dir("left", "/t-dirs");

  // rmdir of "dir/." is EINVAL, and the directory stays.
  mkdir_or_die("/t-dirs/dot");
  REPORT("rmdir-dot", rmdir("/t-dirs/dot/."));
  rmdir("/t-dirs/dot");

  // A removed directory can be recreated, empty.
  mkdir_or_die("/t-dirs/r");
  write_file("/t-dirs/r/f", "1");
  unlink("/t-dirs/r/f");
  rmdir("/t-dirs/r");
  REPORT("mkdir-recreate", mkdir("/t-dirs/r", 0755));
  list_dir("recreated", "/t-dirs/r");

  // chdir and relative paths (wasi-libc keeps the cwd itself).
  mkdir_or_die("/t-dirs/c");
  mkdir_or_die("/t-dirs/c/d");
  REPORT("chdir", chdir("/t-dirs/c"));
  char cwd[256];
  printf("getcwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : errname(errno));
  write_file("rel", "relative");
  print_file("read-relative", "/t-dirs/c/rel");
  print_file("read-dot-relative", "./d/../rel");
  REPORT("chdir-file", chdir("rel"));
  REPORT("chdir-missing", chdir("missing"));
  REPORT("chdir-dotdot", chdir(".."));
  printf("getcwd-after-dotdot: %s\n", getcwd(cwd, sizeof cwd) ? cwd : errname(errno));
  list_dir("list-cwd", ".");
  return 0;
}
