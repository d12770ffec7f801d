// mem-bomb: mallocs 1 MiB chunks (touching each) until malloc returns NULL,
// then prints "allocated N MiB" and exits 0. The chunks are chained so the
// compiler cannot drop the allocations.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  void **head = NULL;
  long n = 0;
  for (;;) {
    void **chunk = malloc(1 << 20);
    if (!chunk) break;
    *chunk = head;  // touches the chunk and chains it
    ((volatile char *)chunk)[(1 << 20) - 1] = 1;
    head = chunk;
    n++;
  }
  printf("allocated %ld MiB\n", n);
  return 0;
}
