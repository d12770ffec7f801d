// fd-exhaust: opens the same file again and again until open() fails, then
// prints "opened N then ERRNAME" and exits 0. Stops at 1,000,000 opens
// ("opened 1000000 then none") so a host without a limit still finishes.
#include "common.h"

int main(void) {
  mkdir_or_die("/t-fd-exhaust");
  write_file("/t-fd-exhaust/f", "x");
  long n = 0;
  const char *err = "none";
  while (n < 1000000) {
    if (open("/t-fd-exhaust/f", O_RDONLY) < 0) { err = errname(errno); break; }
    n++;
  }
  printf("opened %ld then %s\n", n, err);
  return 0;
}
