// fsbox: one small file tool for image-root tests and the example image.
//   fsbox cat PATH...            print files
//   fsbox write PATH TEXT        create or truncate PATH, write TEXT
//   fsbox append PATH TEXT       append TEXT
//   fsbox ls DIR                 names in DIR, sorted, one per line
//   fsbox mkdir|rmdir|rm PATH
//   fsbox ln OLD NEW             hard link
//   fsbox symlink TARGET PATH
//   fsbox mv OLD NEW
//   fsbox stat PATH              type, size, nlink, mode (no symlink following)
// Prints "fsbox: CMD PATH: strerror" on stderr and exits 1 on failure.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *cmd, const char *path) {
  fprintf(stderr, "fsbox: %s %s: %s\n", cmd, path, strerror(errno));
  return 1;
}

static int put(const char *cmd, const char *path, const char *text, int flags) {
  int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) return fail(cmd, path);
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) return fail(cmd, path);
  if (close(fd) != 0) return fail(cmd, path);
  return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) return fail("ls", path);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    names = realloc(names, (n + 1) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
  return 0;
}

static int cat(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("cat", path);
  static char buf[65536];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) return fail("cat", path);
    if (r == 0) break;
    fwrite(buf, 1, (size_t)r, stdout);
  }
  close(fd);
  return 0;
}

static int show(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return fail("stat", path);
  const char *type = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "symlink" : S_ISCHR(st.st_mode) ? "chardev" : "other";
  printf("type=%s size=%lld nlink=%llu\n", type, (long long)st.st_size, (unsigned long long)st.st_nlink);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fsbox cat|write|append|ls|mkdir|rmdir|rm|ln|symlink|mv|stat ARGS...\n");
    return 2;
  }
  const char *cmd = argv[1], *a = argv[2], *b = argc > 3 ? argv[3] : NULL;
  if (strcmp(cmd, "cat") == 0) {
    for (int i = 2; i < argc; i++) if (cat(argv[i]) != 0) return 1;
    return 0;
  }
  if (strcmp(cmd, "ls") == 0) return list(a);
  if (strcmp(cmd, "stat") == 0) return show(a);
  if (strcmp(cmd, "mkdir") == 0) return mkdir(a, 0755) == 0 ? 0 : fail(cmd, a);
  if (strcmp(cmd, "rmdir") == 0) return rmdir(a) == 0 ? 0 : fail(cmd, a);
  if (strcmp(cmd, "rm") == 0) return unlink(a) == 0 ? 0 : fail(cmd, a);
  if (b == NULL) {
    fprintf(stderr, "fsbox: %s needs two arguments\n", cmd);
    return 2;
  }
  if (strcmp(cmd, "write") == 0) return put(cmd, a, b, O_TRUNC);
  if (strcmp(cmd, "append") == 0) return put(cmd, a, b, O_APPEND);
  if (strcmp(cmd, "ln") == 0) return link(a, b) == 0 ? 0 : fail(cmd, b);
  if (strcmp(cmd, "symlink") == 0) return symlink(a, b) == 0 ? 0 : fail(cmd, b);
  if (strcmp(cmd, "mv") == 0) return rename(a, b) == 0 ? 0 : fail(cmd, a);
  fprintf(stderr, "fsbox: unknown command '%s'\n", cmd);
  return 2;
}
