// fs-paths: path resolution. ENOENT / ENOTDIR for missing and non-directory
// components, ENAMETOOLONG for a 300-byte component, "." / "//" / ".."
// components, and ".." at the root staying at the root.
#include "common.h"

// listing writes the sorted names in path (without "." and "..") to out,
// each preceded by a space. Returns -1 with errno set if path can't be opened.
static int listing(const char *path, char *out, size_t cap) {
  DIR *d = opendir(path);
  if (!d) return -1;
  char *names[256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 256) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp_str);
  out[0] = 0;
  for (size_t i = 0; i < n; i++) {
    strncat(out, " ", cap - strlen(out) - 1);
    strncat(out, names[i], cap - strlen(out) - 1);
    free(names[i]);
  }
  return 0;
}

int main(void) {
  mkdir_or_die("/t-paths");
  mkdir_or_die("/t-paths/d");
  write_file("/t-paths/d/f", "file-data");
  struct stat st;

  // Missing and non-directory components.
  REPORT("stat-missing", stat("/t-paths/missing", &st));
  REPORT("stat-missing-parent", stat("/t-paths/missing/x", &st));
  REPORT("stat-file-as-dir", stat("/t-paths/d/f/x", &st));
  REPORT("stat-file-dotdot", stat("/t-paths/d/f/..", &st));
  REPORT("lstat-missing", lstat("/t-paths/missing", &st));
  REPORT("open-missing", open("/t-paths/missing", O_RDONLY));

  // Name length: 255 bytes is fine, 300 is ENAMETOOLONG.
  char name[400];
  strcpy(name, "/t-paths/");
  memset(name + 9, 'n', 255);
  name[9 + 255] = 0;
  int fd = REPORT("create-255", open(name, O_WRONLY | O_CREAT, 0644));
  if (fd >= 0) close(fd);
  REPORT("stat-255", stat(name, &st));
  memset(name + 9, 'n', 300);
  name[9 + 300] = 0;
  REPORT("create-300", open(name, O_WRONLY | O_CREAT, 0644));
  REPORT("stat-300", stat(name, &st));
  REPORT("mkdir-300", mkdir(name, 0755));
  REPORT("unlink-300", unlink(name));
  // A long path made of short components is fine.
  char deep[600] = "/t-paths";
  for (int i = 0; i < 40; i++) {
    strcat(deep, "/sub-dir");
    if (mkdir(deep, 0755) != 0) die("mkdir deep");
  }
  strcat(deep, "/leaf");
  write_file(deep, "deep");
  print_file("read-deep-path", deep);

  // "." and empty components.
  print_file("read-dot-components", "/t-paths/./d/./f");
  print_file("read-double-slash", "/t-paths//d///f");
  print_file("read-dotdot", "/t-paths/d/../d/f");
  print_file("read-leading-double-slash", "//t-paths/d/f");

  // ".." at the root stays at the root.
  char root[4096], up[4096];
  listing("/", root, sizeof root);
  printf("root-listing:%s\n", root);
  if (listing("/..", up, sizeof up) == 0) printf("root-dotdot-same: %s\n", yesno(!strcmp(root, up)));
  else printf("root-dotdot-same: %s\n", errname(errno));
  if (listing("/../../..", up, sizeof up) == 0) printf("root-dotdot3-same: %s\n", yesno(!strcmp(root, up)));
  else printf("root-dotdot3-same: %s\n", errname(errno));
  print_file("read-via-root-dotdot", "/../t-paths/d/f");
  print_file("read-via-deep-dotdot", "/t-paths/d/../../../../t-paths/d/f");
  struct stat a, b;
  if (stat("/", &a) == 0 && stat("/..", &b) == 0)
    printf("root-dotdot-same-inode: %s\n", yesno(a.st_ino == b.st_ino));
  else
    printf("root-dotdot-same-inode: %s\n", errname(errno));
  // The same from a relative path at cwd "/".
  chdir("/");
  print_file("read-relative-dotdot", "../../t-paths/d/f");
  REPORT("mkdir-at-root-dotdot", mkdir("/../t-paths/made-via-dotdot", 0755));
  REPORT("stat-made-via-dotdot", stat("/t-paths/made-via-dotdot", &st));
  return 0;
}
