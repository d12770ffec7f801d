// fs-symlinks: symlink / readlink, dangling links, loops (ELOOP), links to
// directories, absolute targets (resolved against the process root),
// O_NOFOLLOW, and how ".." after a symlink resolves.
#include "common.h"

// show_readlink prints "label: \"target\"" or "label: ENAME".
static void show_readlink(const char *label, const char *path, size_t cap) {
  char buf[256];
  errno = 0;
  ssize_t n = readlink(path, buf, cap);
  if (n < 0) { printf("%s: %s\n", label, errname(errno)); return; }
  printf("%s: ", label);
  print_quoted(buf, (size_t)n);
  printf(" (%ld)\n", (long)n);
}

// kind prints what lstat and stat say about path.
static void kind(const char *label, const char *path) {
  struct stat st;
  printf("%s: lstat ", label);
  if (lstat(path, &st) != 0) printf("%s", errname(errno));
  else printf("%s", S_ISLNK(st.st_mode) ? "link" : S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
  printf(", stat ");
  if (stat(path, &st) != 0) printf("%s\n", errname(errno));
  else printf("%s\n", S_ISLNK(st.st_mode) ? "link" : S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
}

// make_chain makes /t-sym/NAME/l0 -> l1 -> ... -> l(n-1) -> /t-sym/target
// (n links in all) and returns the path of l0.
static const char *make_chain(const char *name, int n) {
  static char first[64];
  char dir[64], from[80], to[32];
  snprintf(dir, sizeof dir, "/t-sym/%s", name);
  mkdir_or_die(dir);
  for (int i = 0; i < n; i++) {
    snprintf(from, sizeof from, "%s/l%d", dir, i);
    if (i == n - 1) snprintf(to, sizeof to, "../target");
    else snprintf(to, sizeof to, "l%d", i + 1);
    if (symlink(to, from) != 0) die(from);
  }
  snprintf(first, sizeof first, "%s/l0", dir);
  return first;
}

int main(void) {
  mkdir_or_die("/t-sym");
  write_file("/t-sym/target", "target-data");

  // A relative link to a file.
  REPORT("symlink", symlink("target", "/t-sym/link"));
  show_readlink("readlink", "/t-sym/link", 256);
  show_readlink("readlink-short-buffer", "/t-sym/link", 3);
  print_file("read-through-link", "/t-sym/link");
  kind("kind-link", "/t-sym/link");
  REPORT("symlink-over-existing", symlink("other", "/t-sym/link"));
  REPORT("readlink-on-file", readlink("/t-sym/target", (char[8]){0}, 8));
  REPORT("readlink-missing", readlink("/t-sym/missing", (char[8]){0}, 8));
  struct stat lst;
  lstat("/t-sym/link", &lst);
  printf("lstat-link-size: %lld\n", (long long)lst.st_size);

  // Writing through the link changes the target.
  write_file("/t-sym/link", "via-link");
  print_file("target-after-write-via-link", "/t-sym/target");

  // Dangling links.
  REPORT("symlink-dangling", symlink("nowhere", "/t-sym/dangle"));
  kind("kind-dangling", "/t-sym/dangle");
  show_readlink("readlink-dangling", "/t-sym/dangle", 256);
  REPORT("open-dangling", open("/t-sym/dangle", O_RDONLY));
  REPORT("create-excl-through-dangling", open("/t-sym/dangle", O_WRONLY | O_CREAT | O_EXCL, 0644));
  int fd = REPORT("create-through-dangling", open("/t-sym/dangle", O_WRONLY | O_CREAT, 0644));
  if (fd >= 0) { write(fd, "made", 4); close(fd); }
  print_file("dangling-target-now", "/t-sym/nowhere");
  // A dangling link still occupies its name.
  symlink("nowhere-else", "/t-sym/dangle2");
  REPORT("mkdir-over-dangling", mkdir("/t-sym/dangle2", 0755));
  REPORT("link-over-dangling", link("/t-sym/target", "/t-sym/dangle2"));

  // Loops.
  symlink("loop2", "/t-sym/loop1");
  symlink("loop1", "/t-sym/loop2");
  symlink("self", "/t-sym/self");
  REPORT("open-loop", open("/t-sym/loop1", O_RDONLY));
  REPORT("stat-loop", stat("/t-sym/loop1", (struct stat[1]){0}));
  REPORT("lstat-loop", lstat("/t-sym/loop1", (struct stat[1]){0}));
  REPORT("open-self-loop", open("/t-sym/self", O_RDONLY));
  REPORT("open-through-loop-dir", open("/t-sym/loop1/x", O_RDONLY));

  // Chains: 8 and 40 links resolve (Linux and strata follow at most 40),
  // 41 is ELOOP.
  print_file("read-chain-of-8", make_chain("c8", 8));
  print_file("read-chain-of-40", make_chain("c40", 40));
  print_file("read-chain-of-41", make_chain("c41", 41));

  // A link to a directory.
  mkdir_or_die("/t-sym/dir");
  write_file("/t-sym/dir/inner", "inner-data");
  REPORT("symlink-to-dir", symlink("dir", "/t-sym/dirlink"));
  kind("kind-dirlink", "/t-sym/dirlink");
  kind("kind-dirlink-slash", "/t-sym/dirlink/");
  list_dir("list-through-dirlink", "/t-sym/dirlink");
  print_file("read-through-dirlink", "/t-sym/dirlink/inner");
  write_file("/t-sym/dirlink/new", "n");
  list_dir("list-dir-after-write-via-link", "/t-sym/dir");
  REPORT("rmdir-dirlink", rmdir("/t-sym/dirlink"));
  REPORT("open-dirlink-O_DIRECTORY", fd = open("/t-sym/dirlink", O_RDONLY | O_DIRECTORY));
  if (fd >= 0) close(fd);

  // Absolute targets resolve against the process root.
  REPORT("symlink-absolute", symlink("/t-sym/dir/inner", "/t-sym/abs"));
  show_readlink("readlink-absolute", "/t-sym/abs", 256);
  print_file("read-through-absolute", "/t-sym/abs");
  symlink("/t-sym/dir", "/t-sym/absdir");
  print_file("read-through-absolute-dir", "/t-sym/absdir/inner");
  symlink("/", "/t-sym/rootlink");
  list_dir("list-through-link-to-root", "/t-sym/rootlink/t-sym/dir");

  // ".." after a symlink to a directory goes to the parent of the *target*.
  mkdir_or_die("/t-sym/deep");
  mkdir_or_die("/t-sym/deep/er");
  write_file("/t-sym/deep/here", "deep-parent");
  symlink("deep/er", "/t-sym/tolink");
  print_file("dotdot-after-link", "/t-sym/tolink/../here");

  // O_NOFOLLOW refuses a symlink in the last component.
  REPORT("open-nofollow-link", open("/t-sym/link", O_RDONLY | O_NOFOLLOW));
  fd = REPORT("open-nofollow-file", open("/t-sym/target", O_RDONLY | O_NOFOLLOW));
  if (fd >= 0) close(fd);

  // unlink removes the link, never its target.
  REPORT("unlink-link", unlink("/t-sym/link"));
  kind("kind-target-after-unlink", "/t-sym/target");
  REPORT("unlink-dirlink", unlink("/t-sym/dirlink"));
  list_dir("dir-after-unlink-dirlink", "/t-sym/dir");
  return 0;
}
