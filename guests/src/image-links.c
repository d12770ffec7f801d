// image-links: an ordinary C program reading an image's tree through the
// links images are full of: absolute ones (/etc/alternatives/*, /lib64's
// loader), relative ones that climb (/etc/os-release -> ../usr/lib/...,
// usrmerge's /bin -> usr/bin), chains of both, links to directories, and
// links whose ".." run past the root. It only reads, so it runs the same over
// a read-only layer view and over a tmpfs copy of it.
//
// The tree (built by test/conformance/image-links.test.ts) is Debian-like:
//   /usr/bin/vim.basic "vim"            /etc/alternatives/editor -> /usr/bin/vim.basic
//   /usr/bin/editor -> /etc/alternatives/editor     /bin -> usr/bin
//   /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "ld.so"
//   /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
//   /usr/lib/os-release "ID=debian"    /etc/os-release -> ../usr/lib/os-release
//   /lib/libz.so.1 "zlib"              /usr/lib/libz.so.1 -> ../../lib/libz.so.1
//   /usr/local/lib -> /usr/lib         /usr/share/climb -> ../../../../../etc/os-release
//   /etc/passwd "root:x:0:0"           /escape -> /../../../etc/passwd
//   /gone -> /../../secret             /loop1 -> /loop2 -> /loop1
//
// The last part makes the calls a guest itself controls: an absolute path
// argument, ".." above the directory fd, and an absolute symlink target.
// Those follow WASI's rules and fail with EPERM (docs/decisions.md).
#include <wasi/api.h>

#include "common.h"

// stat_kind prints "label: file|dir|link" (stat, or lstat with nofollow) or "label: ENAME".
static void stat_kind(const char *label, const char *path, int nofollow) {
  struct stat st;
  errno = 0;
  if ((nofollow ? lstat(path, &st) : stat(path, &st)) != 0) {
    printf("%s: %s\n", label, errname(errno));
    return;
  }
  printf("%s: %s\n", label, S_ISLNK(st.st_mode) ? "link" : S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
}

// same_file prints whether a and b are the same inode.
static void same_file(const char *label, const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) != 0 || stat(b, &sb) != 0) {
    printf("%s: %s\n", label, errname(errno));
    return;
  }
  printf("%s: %s\n", label, yesno(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino));
}

// raw_open prints the errno of __wasi_path_open(3, path), closing what it opens.
static void raw_open(const char *label, const char *path) {
  __wasi_fd_t fd;
  __wasi_errno_t e = __wasi_path_open(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
  if (e == 0) (void)!__wasi_fd_close(fd);
  report_errno(label, e);
}

int main(void) {
  // Absolute links, and chains of them.
  print_file("alternatives-chain", "/usr/bin/editor");
  print_file("usrmerge-then-absolute", "/bin/editor");
  print_file("loader", "/lib64/ld-linux-x86-64.so.2");
  stat_kind("loader-lstat", "/lib64/ld-linux-x86-64.so.2", 1);
  stat_kind("loader-stat", "/lib64/ld-linux-x86-64.so.2", 0);
  same_file("loader-same-inode", "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");

  // Relative links that climb.
  print_file("os-release", "/etc/os-release");
  print_file("usr-lib-climbs-to-lib", "/usr/lib/libz.so.1");
  print_file("climb-past-the-root", "/usr/share/climb");

  // Links to directories, then more path after them.
  list_dir("list-absolute-dir-link", "/usr/local/lib");
  print_file("through-absolute-dir-link", "/usr/local/lib/os-release");
  list_dir("list-usrmerge", "/bin");
  print_file("dotdot-after-dir-link", "/usr/local/lib/../bin/vim.basic");

  // A working directory reached through a link.
  if (chdir("/bin") != 0) die("chdir /bin");
  print_file("relative-from-linked-cwd", "editor");
  if (chdir("/") != 0) die("chdir /");

  // Links whose ".." run past the root stay at the root.
  print_file("absolute-link-with-dotdots", "/escape");
  print_file("link-to-outside-name", "/gone");
  stat_kind("loop", "/loop1", 0);

  // What the guest asks: WASI's rules.
  print_file("path-dotdot-above-preopen", "/../etc/passwd");
  raw_open("raw-absolute-path", "/etc/passwd");
  raw_open("raw-dotdot-above-fd", "etc/../../etc/passwd");
  raw_open("raw-dotdot-inside-fd", "etc/../etc/passwd");
  raw_open("raw-link-then-dotdot", "bin/../lib/libz.so.1");
  report_errno("raw-symlink-absolute-target", __wasi_path_symlink("/etc/passwd", 3, "mine"));
  return 0;
}
