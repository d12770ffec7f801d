// random: getentropy / random_get fill buffers with data that is not all
// zero and differs between calls; getentropy refuses more than 256 bytes.
#include "common.h"
#include <wasi/api.h>

static int all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) if (p[i]) return 0;
  return 1;
}

int main(void) {
  unsigned char a[256] = {0}, b[256] = {0};
  REPORT("getentropy-256", getentropy(a, sizeof a));
  REPORT("getentropy-256-again", getentropy(b, sizeof b));
  printf("not-all-zero: %s\n", yesno(!all_zero(a, sizeof a)));
  printf("calls-differ: %s\n", yesno(memcmp(a, b, sizeof a) != 0));
  REPORT("getentropy-0", getentropy(a, 0));
  REPORT("getentropy-257", getentropy(a, 257));

  // Raw random_get: big buffers, and odd sizes, are filled completely.
  static unsigned char big[1 << 20];
  report_errno("random-get-1mib", __wasi_random_get(big, sizeof big));
  // Every 4 KiB block has some nonzero byte.
  int blocks_ok = 1;
  for (size_t off = 0; off < sizeof big; off += 4096) if (all_zero(big + off, 4096)) blocks_ok = 0;
  printf("1mib-every-block-nonzero: %s\n", yesno(blocks_ok));
  unsigned char odd[7] = {0};
  report_errno("random-get-7", __wasi_random_get(odd, sizeof odd));
  report_errno("random-get-0", __wasi_random_get(odd, 0));

  // Byte values are spread out: all 256 values appear in 1 MiB.
  int seen[256] = {0}, distinct = 0;
  for (size_t i = 0; i < sizeof big; i++) seen[big[i]] = 1;
  for (int i = 0; i < 256; i++) distinct += seen[i];
  printf("all-byte-values-seen: %s\n", yesno(distinct == 256));

  // arc4random is built on the same source.
  unsigned r1 = arc4random(), r2 = arc4random(), r3 = arc4random();
  printf("arc4random-varies: %s\n", yesno(!(r1 == r2 && r2 == r3)));
  return 0;
}
