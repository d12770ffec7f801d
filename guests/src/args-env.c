// args-env: prints argc, every argv[i] (quoted, so spaces and empty strings
// show), the environment sorted, and a few getenv lookups.
#include "common.h"

extern char **environ;

int main(int argc, char **argv) {
  printf("argc: %d\n", argc);
  for (int i = 0; i < argc; i++) {
    printf("argv[%d]: ", i);
    print_quoted(argv[i], strlen(argv[i]));
    printf("\n");
  }
  size_t n = 0;
  while (environ[n]) n++;
  char **sorted = calloc(n + 1, sizeof *sorted);
  memcpy(sorted, environ, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, cmp_str);
  printf("envc: %zu\n", n);
  for (size_t i = 0; i < n; i++) {
    printf("env: ");
    print_quoted(sorted[i], strlen(sorted[i]));
    printf("\n");
  }
  const char *keys[] = {"HOME", "EMPTY", "WITH_EQUALS", "UNSET_VARIABLE", "UNICODE"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const char *v = getenv(keys[i]);
    printf("getenv %s: ", keys[i]);
    if (v) print_quoted(v, strlen(v));
    else printf("(unset)");
    printf("\n");
  }
  return 0;
}
