// dev-nodes: the devices of a container's /dev, checked the same way in
// strata and, built natively, on Linux (test/wasi/dev-guest.test.ts compares
// the two outputs line by line). It uses no strata-specific header so that it
// builds for both targets.
//
// stdin is expected to hold a short text, which is read back through
// /dev/stdin; a line is written through /dev/stdout and one through
// /dev/stderr. Nothing host-specific is printed.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
#define N(x) case x: return #x;
    N(EACCES) N(EBADF) N(EEXIST) N(EINVAL) N(EIO) N(EISDIR) N(ENOENT)
    N(ENOSPC) N(ENOTDIR) N(ENOTTY) N(ENXIO) N(EPERM) N(EROFS) N(ESPIPE)
#undef N
  }
  static char buf[16];
  snprintf(buf, sizeof buf, "E?%d", e);
  return buf;
}

// show prints "label: N" for rc >= 0, else "label: ENAME".
static void show(const char *label, const char *dev, long rc) {
  if (rc < 0) printf("%s %s: %s\n", label, dev, en(errno));
  else printf("%s %s: %ld\n", label, dev, rc);
}

static int all_are(const unsigned char *b, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i++)
    if (b[i] != v) return 0;
  return 1;
}

static const char *const mem_devices[] = {"null", "zero", "full", "random", "urandom"};
enum { n_mem = sizeof mem_devices / sizeof mem_devices[0] };

static void check_device(const char *name) {
  char path[32];
  snprintf(path, sizeof path, "/dev/%s", name);
  struct stat st;
  if (stat(path, &st) != 0) {
    printf("stat %s: %s\n", path, en(errno));
    return;
  }
  printf("stat %s: chr=%d size=%lld\n", path, S_ISCHR(st.st_mode) ? 1 : 0, (long long)st.st_size);

  errno = 0;
  int fd = open(path, O_RDWR);
  if (fd < 0) {
    printf("open %s: %s\n", path, en(errno));
    return;
  }
  if (fstat(fd, &st) == 0) printf("fstat %s: chr=%d\n", path, S_ISCHR(st.st_mode) ? 1 : 0);
  errno = 0;
  int tty = isatty(fd);
  printf("isatty %s: %d %s\n", path, tty, tty ? "-" : en(errno));

  unsigned char a[64], b[64];
  memset(a, 0xaa, sizeof a);
  errno = 0;
  long n = (long)read(fd, a, sizeof a);
  if (n < 0) {
    show("read", path, n);
  } else if (strcmp(name, "random") == 0 || strcmp(name, "urandom") == 0) {
    long m = (long)read(fd, b, sizeof b);
    printf("read %s: %ld, again %ld, all zero %d, same twice %d\n", path, n, m, all_are(a, (size_t)n, 0),
           n == m && memcmp(a, b, (size_t)n) == 0);
  } else {
    printf("read %s: %ld, zeros %d\n", path, n, n > 0 && all_are(a, (size_t)n, 0));
  }
  errno = 0;
  show("write", path, (long)write(fd, "hello", 5));
  errno = 0;
  show("lseek-set-100", path, (long)lseek(fd, 100, SEEK_SET));
  errno = 0;
  show("lseek-cur", path, (long)lseek(fd, 0, SEEK_CUR));
  errno = 0;
  show("lseek-end", path, (long)lseek(fd, 0, SEEK_END));
  errno = 0;
  memset(a, 0xaa, 8);
  n = (long)pread(fd, a, 8, 4096);
  if (n < 0) show("pread", path, n);
  else if (strcmp(name, "random") == 0 || strcmp(name, "urandom") == 0) printf("pread %s: %ld\n", path, n);
  else printf("pread %s: %ld, zeros %d\n", path, n, n > 0 && all_are(a, (size_t)n, 0));
  errno = 0;
  show("pwrite", path, (long)pwrite(fd, "x", 1, 4096));
  close(fd);
}

int main(void) {
  for (int i = 0; i < n_mem; i++) check_device(mem_devices[i]);

  // fopen(..., "w") asks for O_CREAT|O_TRUNC, which a device ignores.
  FILE *f = fopen("/dev/null", "w");
  printf("fopen-w /dev/null: %s\n", f ? "ok" : en(errno));
  if (f) {
    fprintf(f, "discarded\n");
    printf("fclose /dev/null: %s\n", fclose(f) == 0 ? "ok" : en(errno));
  }
  // d_type of the devices in a listing of /dev (a host's /dev holds more: only these are printed).
  DIR *d = opendir("/dev");
  if (!d) {
    printf("opendir /dev: %s\n", en(errno));
  } else {
    int seen[n_mem] = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      for (int i = 0; i < n_mem; i++)
        if (strcmp(e->d_name, mem_devices[i]) == 0) seen[i] = e->d_type == DT_CHR ? 1 : 2;
    }
    closedir(d);
    for (int i = 0; i < n_mem; i++)
      printf("dirent /dev/%s: %s\n", mem_devices[i], seen[i] == 1 ? "chr" : seen[i] == 2 ? "other" : "missing");
  }

  // The stdio devices are the process's own streams.
  char in[128];
  int fd = open("/dev/stdin", O_RDONLY);
  if (fd < 0) {
    printf("open /dev/stdin: %s\n", en(errno));
  } else {
    long n = (long)read(fd, in, sizeof in - 1);
    if (n < 0) show("read", "/dev/stdin", n);
    else printf("read /dev/stdin: \"%.*s\"\n", (int)n, in);
    close(fd);
  }
  fflush(stdout);
  fd = open("/dev/stdout", O_WRONLY);
  if (fd < 0) {
    printf("open /dev/stdout: %s\n", en(errno));
  } else {
    const char *line = "written through /dev/stdout\n";
    if (write(fd, line, strlen(line)) < 0) printf("write /dev/stdout: %s\n", en(errno));
    close(fd);
  }
  fd = open("/dev/stderr", O_WRONLY);
  if (fd < 0) {
    printf("open /dev/stderr: %s\n", en(errno));
  } else {
    const char *line = "written through /dev/stderr\n";
    if (write(fd, line, strlen(line)) < 0) printf("write /dev/stderr: %s\n", en(errno));
    close(fd);
  }
  printf("done\n");
  return 0;
}
