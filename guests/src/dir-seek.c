// dir-seek: telldir before every entry of a directory, then seekdir back to
// each position and check readdir gives the same entry again. Prints
// "ok N" (N entries) or the first mismatch, and exits 1 on a mismatch.
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define MAX 4096

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/";
  static char names[MAX][256];
  static long pos[MAX];
  DIR *d = opendir(path);
  if (d == NULL) { perror(path); return 1; }
  int n = 0;
  for (;;) {
    long at = telldir(d);
    struct dirent *e = readdir(d);
    if (e == NULL || n == MAX) break;
    pos[n] = at;
    strncpy(names[n], e->d_name, 255);
    n++;
  }
  for (int i = n - 1; i >= 0; i--) {
    seekdir(d, pos[i]);
    struct dirent *e = readdir(d);
    if (e == NULL || strcmp(e->d_name, names[i]) != 0) {
      printf("mismatch at %d: expected %s, got %s\n", i, names[i], e == NULL ? "(end)" : e->d_name);
      return 1;
    }
  }
  closedir(d);
  printf("ok %d\n", n);
  return 0;
}
