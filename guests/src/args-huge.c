// args-huge: prints argc, envc, and the total bytes of argv and environ
// (each string counted with its NUL), as "argc A envc E bytes B".
#include <stdio.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv) {
  unsigned long bytes = 0;
  for (int i = 0; i < argc; i++) bytes += strlen(argv[i]) + 1;
  int envc = 0;
  for (; environ[envc]; envc++) bytes += strlen(environ[envc]) + 1;
  printf("argc %d envc %d bytes %lu\n", argc, envc, bytes);
  return 0;
}
