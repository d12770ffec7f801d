// exit-code: exits with atoi(argv[1]) (0 without an argument), after
// printing one line so tests can check stdout is flushed on exit.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int code = argc > 1 ? atoi(argv[1]) : 0;
  printf("exiting with %d\n", code);
  exit(code);
}
