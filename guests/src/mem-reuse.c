// mem-reuse: whether this process's memory starts as a fresh instance's does.
// It counts the non-zero bytes of a .bss array and of a heap block, prints
// `dirty N`, then fills both (0xAB, 0xCD) and leaves them so. The same
// program run again gets the same addresses, so a memory handed on without
// being zeroed shows up as `dirty` > 0. argv[1]: `trap` traps after filling;
// `grow` also mallocs 1 MiB, which grows the memory.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char bss[16384];

int main(int argc, char **argv) {
  unsigned char *heap = malloc(16384);
  if (heap == NULL) return 2;
  size_t dirty = 0;
  for (size_t i = 0; i < sizeof bss; i++) dirty += bss[i] != 0;
  for (size_t i = 0; i < 16384; i++) dirty += heap[i] != 0;
  printf("dirty %zu, pages %zu\n", dirty, (size_t)__builtin_wasm_memory_size(0));
  memset(bss, 0xab, sizeof bss);
  memset(heap, 0xcd, 16384);
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "grow") == 0) {
    // volatile, so the compiler can neither drop the block nor its stores.
    volatile unsigned char *big = malloc(1 << 20);
    if (big == NULL) return 3;
    for (size_t i = 0; i < (1 << 20); i += 4096) big[i] = 0xef;
    printf("grown to %zu pages\n", (size_t)__builtin_wasm_memory_size(0));
  }
  fflush(stdout);
  if (strcmp(mode, "trap") == 0) __builtin_trap();
  return 0;
}
