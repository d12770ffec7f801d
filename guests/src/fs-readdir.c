// fs-readdir: directory listing. "." and "..", d_type, readdir while the
// directory changes (through libc's buffered readdir and through raw
// fd_readdir cookies, one entry at a time), telldir/seekdir, rewinddir, and
// reading a directory that was removed while open.
//
// POSIX leaves it open whether entries added or removed during a listing are
// seen, but every entry that is neither must be returned exactly once. So
// only those "untouched" entries are checked, and listings print sorted.
#include "common.h"
#include <wasi/api.h>

#define MANY 300

static char *entry_name(int i) {
  static char buf[64];
  // Long names so the listing spans several of libc's 4 KiB readdir batches.
  snprintf(buf, sizeof buf, "entry-%03d-padding-padding-padding", i);
  return buf;
}

static int index_of(const char *name) {
  int i;
  if (sscanf(name, "entry-%d-", &i) == 1 && i >= 0 && i < MANY && !strcmp(name, entry_name(i))) return i;
  return -1;
}

// Entries with i % 3 == 0 are deleted while listing (and "new-R-K" ones are
// created); the others are untouched.
static int untouched(int i) { return i % 3 != 0; }

static void make_entries(const char *dir) {
  char path[128];
  for (int i = 0; i < MANY; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, entry_name(i));
    write_file(path, "");
  }
}

// mutate deletes every entry with i % 3 == 0 and creates "new-N" entries.
static void mutate(const char *dir, int round) {
  char path[160];
  for (int i = 0; i < MANY; i += 3) {
    snprintf(path, sizeof path, "%s/%s", dir, entry_name(i));
    unlink(path);  // may already be gone after the first round
  }
  for (int k = 0; k < 20; k++) {
    snprintf(path, sizeof path, "%s/new-%d-%02d", dir, round, k);
    write_file(path, "");
  }
}

static void check_seen(const char *label, const int *seen) {
  int missing = 0, dup = 0, count = 0;
  for (int i = 0; i < MANY; i++) {
    if (!untouched(i)) continue;
    count++;
    if (seen[i] == 0) missing++;
    if (seen[i] > 1) dup++;
  }
  printf("%s: untouched %d, missing %d, duplicated %d\n", label, count, missing, dup);
}

static char type_letter(unsigned char t) {
  switch (t) {
    case DT_REG: return 'f';
    case DT_DIR: return 'd';
    case DT_LNK: return 'l';
    case DT_UNKNOWN: return '?';
    default: return 'o';
  }
}

int main(void) {
  mkdir_or_die("/t-readdir");

  // "." and ".." are listed, also in an empty directory.
  mkdir_or_die("/t-readdir/empty");
  DIR *d = opendir("/t-readdir/empty");
  if (!d) die("opendir empty");
  struct dirent *e;
  int dot = 0, dotdot = 0, other = 0;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".")) dot++;
    else if (!strcmp(e->d_name, "..")) dotdot++;
    else other++;
  }
  closedir(d);
  printf("empty-dir: dot %d, dotdot %d, other %d\n", dot, dotdot, other);

  // d_type of each kind of entry.
  mkdir_or_die("/t-readdir/kinds");
  write_file("/t-readdir/kinds/file", "f");
  mkdir_or_die("/t-readdir/kinds/dir");
  symlink("file", "/t-readdir/kinds/link");
  symlink("nowhere", "/t-readdir/kinds/dangling");
  d = opendir("/t-readdir/kinds");
  char *lines[16];
  int n = 0;
  while ((e = readdir(d)) != NULL && n < 16) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char buf[80];
    snprintf(buf, sizeof buf, "%s=%c", e->d_name, type_letter(e->d_type));
    lines[n++] = strdup(buf);
  }
  closedir(d);
  qsort(lines, (size_t)n, sizeof lines[0], cmp_str);
  printf("kinds:");
  for (int i = 0; i < n; i++) printf(" %s", lines[i]);
  printf("\n");

  // d_ino is the entry's inode number, as lstat sees it.
  d = opendir("/t-readdir/kinds");
  int ino_ok = 1, ino_n = 0;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "/t-readdir/kinds/%s", e->d_name);
    if (lstat(path, &st) != 0 || st.st_ino != e->d_ino) ino_ok = 0;
    ino_n++;
  }
  closedir(d);
  printf("d_ino-matches-st_ino: %s (%d entries)\n", yesno(ino_ok), ino_n);

  // libc readdir while mutating between its batches.
  mkdir_or_die("/t-readdir/libc");
  make_entries("/t-readdir/libc");
  int seen[MANY] = {0};
  int total = 0, round = 0;  // entries read, rounds of changes made
  d = opendir("/t-readdir/libc");
  while ((e = readdir(d)) != NULL) {
    int i = index_of(e->d_name);
    if (i >= 0) seen[i]++;
    // Three rounds of changes, early, middle and late in the listing.
    if (round < 3 && ++total == 10 + 60 * round) mutate("/t-readdir/libc", round++);
  }
  closedir(d);
  check_seen("libc-readdir-while-mutating", seen);
  printf("libc-mutation-rounds: %d\n", round);

  // Raw fd_readdir, one entry per call: the buffer holds one entry and part
  // of the next, only the first is used, and the next call starts at its
  // d_next cookie. The directory changes between calls.
  mkdir_or_die("/t-readdir/raw");
  make_entries("/t-readdir/raw");
  memset(seen, 0, sizeof seen);
  int fd = open("/t-readdir/raw", O_RDONLY | O_DIRECTORY);
  if (fd < 0) die("open raw");
  __wasi_dircookie_t cookie = __WASI_DIRCOOKIE_START;
  unsigned char buf[sizeof(__wasi_dirent_t) + 64];
  int calls = 0, steps = 0, raw_dots = 0;
  round = 0;
  for (;;) {
    __wasi_size_t used = 0;
    __wasi_errno_t err = __wasi_fd_readdir((__wasi_fd_t)fd, buf, sizeof buf, cookie, &used);
    if (err != 0) { printf("raw-readdir: %s\n", errname(err)); break; }
    if (used < sizeof(__wasi_dirent_t)) break;  // end of directory
    __wasi_dirent_t ent;
    memcpy(&ent, buf, sizeof ent);
    char name[65] = {0};
    size_t len = ent.d_namlen < 64 ? ent.d_namlen : 64;
    memcpy(name, buf + sizeof ent, len);
    if (!strcmp(name, ".") || !strcmp(name, "..")) raw_dots++;
    int i = index_of(name);
    if (i >= 0) seen[i]++;
    cookie = ent.d_next;
    if (round < 3 && ++calls == 5 + 60 * round) mutate("/t-readdir/raw", round++);
    if (++steps > 10 * MANY) { printf("raw-readdir: runaway\n"); break; }
  }
  check_seen("raw-readdir-while-mutating", seen);
  printf("raw-mutation-rounds: %d\n", round);
  printf("raw-dots: %d\n", raw_dots);
  // Reading again from the final cookie gives nothing more.
  __wasi_size_t used = 1;
  __wasi_errno_t err = __wasi_fd_readdir((__wasi_fd_t)fd, buf, sizeof buf, cookie, &used);
  printf("raw-readdir-past-end: %s, used %u\n", err ? errname(err) : "ok", (unsigned)used);
  close(fd);

  // telldir / seekdir return to the same entry.
  d = opendir("/t-readdir/libc");
  for (int k = 0; k < 5; k++) readdir(d);
  long pos = telldir(d);
  e = readdir(d);
  char first[128];
  snprintf(first, sizeof first, "%s", e ? e->d_name : "(end)");
  for (int k = 0; k < 3; k++) readdir(d);
  seekdir(d, pos);
  e = readdir(d);
  printf("seekdir-same-entry: %s\n", yesno(e && !strcmp(e->d_name, first)));

  // rewinddir shows the final contents.
  rewinddir(d);
  int files = 0, news = 0;
  while ((e = readdir(d)) != NULL) {
    if (index_of(e->d_name) >= 0) files++;
    if (!strncmp(e->d_name, "new-", 4)) news++;
  }
  closedir(d);
  printf("after-rewind: entries %d, new %d\n", files, news);

  // A directory removed while open lists nothing further.
  mkdir_or_die("/t-readdir/gone");
  d = opendir("/t-readdir/gone");
  rmdir("/t-readdir/gone");
  errno = 0;
  int left = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) left++;
  }
  printf("readdir-removed-dir: entries %d, errno %s\n", left, errno ? errname(errno) : "none");
  closedir(d);
  return 0;
}
