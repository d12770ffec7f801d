// fd-misc: the remaining fd calls. fsync / fdatasync, posix_fadvise,
// posix_fallocate, fd_tell, fd_fdstat_get's file type, the preopen's name
// (fd_prestat_get / fd_prestat_dir_name), and the socket calls on a file
// (ENOTSOCK).
#include "common.h"
#include <wasi/api.h>

int main(void) {
  mkdir_or_die("/t-misc");
  int fd = open("/t-misc/f", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  write(fd, "0123456789", 10);

  REPORT("fsync", fsync(fd));
  REPORT("fdatasync", fdatasync(fd));
  int dfd = open("/t-misc", O_RDONLY | O_DIRECTORY);
  REPORT("fsync-dir", fsync(dfd));
  // posix_fadvise and posix_fallocate return the error instead of setting errno.
  report_errno("fadvise-sequential", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
  report_errno("fadvise-bad-advice", posix_fadvise(fd, 0, 0, 99));

  // posix_fallocate grows the file (zero-filled) but never shrinks it.
  report_errno("fallocate-grow", posix_fallocate(fd, 0, 100));
  printf("size-after-grow: %lld\n", file_size("/t-misc/f"));
  report_errno("fallocate-inside", posix_fallocate(fd, 0, 5));
  printf("size-after-inside: %lld\n", file_size("/t-misc/f"));
  char tail[4] = {1, 1, 1, 1};
  pread(fd, tail, 4, 96);
  printf("fallocate-zeros: %s\n", yesno(!tail[0] && !tail[1] && !tail[2] && !tail[3]));

  // fd_tell follows reads and seeks.
  __wasi_filesize_t pos = 99;
  lseek(fd, 3, SEEK_SET);
  report_errno("tell", __wasi_fd_tell((__wasi_fd_t)fd, &pos));
  printf("tell-at: %llu\n", (unsigned long long)pos);
  char buf[4];
  read(fd, buf, 4);
  __wasi_errno_t err = __wasi_fd_tell((__wasi_fd_t)fd, &pos);
  printf("tell-after-read: %s %llu\n", err ? errname(err) : "ok", (unsigned long long)pos);

  // fd_fdstat_get: the file type of each kind of fd.
  __wasi_fdstat_t st;
  err = __wasi_fd_fdstat_get((__wasi_fd_t)fd, &st);
  printf("fdstat-file: %s, regular %s\n", err ? errname(err) : "ok", yesno(st.fs_filetype == __WASI_FILETYPE_REGULAR_FILE));
  err = __wasi_fd_fdstat_get((__wasi_fd_t)dfd, &st);
  printf("fdstat-dir: %s, directory %s\n", err ? errname(err) : "ok", yesno(st.fs_filetype == __WASI_FILETYPE_DIRECTORY));

  // The one preopen is "/".
  int found = 0;
  for (int p = 3; p < 64; p++) {
    __wasi_prestat_t pre;
    if (__wasi_fd_prestat_get((__wasi_fd_t)p, &pre) != 0) continue;
    char name[64] = {0};
    size_t len = pre.u.dir.pr_name_len < 63 ? pre.u.dir.pr_name_len : 63;
    err = __wasi_fd_prestat_dir_name((__wasi_fd_t)p, (uint8_t *)name, (__wasi_size_t)len);
    printf("preopen: type-dir %s, name \"%s\", %s\n", yesno(pre.tag == __WASI_PREOPENTYPE_DIR), name,
           err ? errname(err) : "ok");
    found++;
  }
  printf("preopens: %d\n", found);

  // Sockets: a regular file is not one.
  __wasi_fd_t out_fd;
  report_errno("sock-accept-file", __wasi_sock_accept((__wasi_fd_t)fd, 0, &out_fd));
  __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
  __wasi_size_t n;
  __wasi_roflags_t roflags;
  report_errno("sock-recv-file", __wasi_sock_recv((__wasi_fd_t)fd, &iov, 1, 0, &n, &roflags));
  __wasi_ciovec_t ciov = {(const uint8_t *)"x", 1};
  report_errno("sock-send-file", __wasi_sock_send((__wasi_fd_t)fd, &ciov, 1, 0, &n));
  report_errno("sock-shutdown-file", __wasi_sock_shutdown((__wasi_fd_t)fd, __WASI_SDFLAGS_RD));

  char head[12];
  printf("content-start: ");
  print_quoted(head, (size_t)pread(fd, head, sizeof head, 0));
  printf("\n");
  close(fd);
  close(dfd);
  return 0;
}
