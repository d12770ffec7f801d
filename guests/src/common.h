// common.h: helpers shared by the conformance guests.
//
// Every guest prints deterministic lines such as "open-excl: EEXIST". Errors
// are printed by errno *name* (never strerror text, which differs between
// libcs), and nothing host-specific is printed: no timestamps, inode or fd
// numbers, or directory sizes. Only `static inline` functions live here so
// that a guest which does not use one gets no -Wunused-function error.
#ifndef STRATA_GUEST_COMMON_H
#define STRATA_GUEST_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// errname maps an errno value to its POSIX name ("ENOENT"), or "E?<n>".
static inline const char *errname(int e) {
  switch (e) {
#define N(x) case x: return #x;
    N(E2BIG) N(EACCES) N(EADDRINUSE) N(EADDRNOTAVAIL) N(EAFNOSUPPORT)
    N(EAGAIN) N(EALREADY) N(EBADF) N(EBADMSG) N(EBUSY) N(ECANCELED)
    N(ECHILD) N(ECONNABORTED) N(ECONNREFUSED) N(ECONNRESET) N(EDEADLK)
    N(EDESTADDRREQ) N(EDOM) N(EDQUOT) N(EEXIST) N(EFAULT) N(EFBIG)
    N(EHOSTUNREACH) N(EIDRM) N(EILSEQ) N(EINPROGRESS) N(EINTR) N(EINVAL)
    N(EIO) N(EISCONN) N(EISDIR) N(ELOOP) N(EMFILE) N(EMLINK) N(EMSGSIZE)
    N(EMULTIHOP) N(ENAMETOOLONG) N(ENETDOWN) N(ENETRESET) N(ENETUNREACH)
    N(ENFILE) N(ENOBUFS) N(ENODEV) N(ENOENT) N(ENOEXEC) N(ENOLCK)
    N(ENOLINK) N(ENOMEM) N(ENOMSG) N(ENOPROTOOPT) N(ENOSPC) N(ENOSYS)
    N(ENOTCONN) N(ENOTDIR) N(ENOTEMPTY) N(ENOTRECOVERABLE) N(ENOTSOCK)
    N(ENOTSUP) N(ENOTTY) N(ENXIO) N(EOVERFLOW) N(EOWNERDEAD) N(EPERM)
    N(EPIPE) N(EPROTO) N(EPROTONOSUPPORT) N(EPROTOTYPE) N(ERANGE) N(EROFS)
    N(ESPIPE) N(ESRCH) N(ESTALE) N(ETIMEDOUT) N(ETXTBSY) N(EXDEV)
    N(ENOTCAPABLE)
#undef N
    case 0: return "0";
  }
  static char buf[16];
  snprintf(buf, sizeof buf, "E?%d", e);
  return buf;
}

// report prints "label: ok" when rc >= 0, else "label: ENAME" from errno.
// It returns rc so calls can be chained into conditions.
static inline long report(const char *label, long rc) {
  if (rc >= 0) printf("%s: ok\n", label);
  else printf("%s: %s\n", label, errname(errno));
  return rc;
}

// report_errno prints "label: ok" for 0, else "label: ENAME"; for raw WASI
// calls, which return the errno instead of setting it.
static inline void report_errno(const char *label, int err) {
  printf("%s: %s\n", label, err ? errname(err) : "ok");
}

// REPORT(label, expr): clear errno, run expr, report the outcome.
#define REPORT(label, expr) (errno = 0, report((label), (long)(expr)))

// die prints "fatal: what: ENAME" and exits 1: a setup step failed, so the
// rest of the guest's output would mean nothing.
static inline void die(const char *what) {
  printf("fatal: %s: %s\n", what, errname(errno));
  fflush(stdout);
  exit(1);
}

// yesno turns a condition into "yes" / "no".
static inline const char *yesno(int c) { return c ? "yes" : "no"; }

// write_file creates or truncates path and writes s to it; dies on error.
static inline void write_file(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(path);
  size_t n = strlen(s);
  if (write(fd, s, n) != (ssize_t)n) die(path);
  close(fd);
}

// read_file reads up to cap-1 bytes of path into buf (NUL-terminated).
// Returns the byte count, or -1 with errno set.
static inline long read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, cap - 1 - got);
    if (n < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (n == 0 || got + (size_t)n >= cap - 1) { got += (size_t)n; break; }
    got += (size_t)n;
  }
  buf[got] = 0;
  close(fd);
  return (long)got;
}

// print_quoted prints n bytes of s in double quotes, escaping newlines,
// quotes and non-printable bytes so one value stays on one line.
static inline void print_quoted(const char *s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n') fputs("\\n", stdout);
    else if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 32 || c > 126) printf("\\x%02x", c);
    else putchar(c);
  }
  putchar('"');
}

// print_file prints "label: \"<contents>\"" or "label: ENAME".
static inline void print_file(const char *label, const char *path) {
  char buf[512];
  long n = read_file(path, buf, sizeof buf);
  if (n < 0) { printf("%s: %s\n", label, errname(errno)); return; }
  printf("%s: ", label);
  print_quoted(buf, (size_t)n);
  putchar('\n');
}

// mkdir_or_die creates a fresh work directory for a guest.
static inline void mkdir_or_die(const char *path) {
  if (mkdir(path, 0755) != 0) die(path);
}

static inline int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

// list_dir prints "label: name1 name2 ..." with the entries of path sorted,
// leaving out "." and ".." (fs-readdir checks those on its own, because
// node:wasi omits them), or "label: ENAME".
static inline void list_dir(const char *label, const char *path) {
  DIR *d = opendir(path);
  if (!d) { printf("%s: %s\n", label, errname(errno)); return; }
  char *names[512];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 512) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp_str);
  printf("%s:", label);
  for (size_t i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
  printf("%s\n", n ? "" : " (empty)");
}

// file_size returns st_size of path, or -1 with errno set.
static inline long long file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  return (long long)st.st_size;
}

#endif
