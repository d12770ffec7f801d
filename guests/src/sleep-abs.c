// sleep-abs: absolute-deadline sleeps that node:wasi (uvwasi) never returns
// from: clock_nanosleep(TIMER_ABSTIME) on the monotonic clock, and absolute
// deadlines that are already in the past (which must return at once).
#include "common.h"
#include <time.h>

static long long now(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_until(const char *label, clockid_t c, long long offset_ms) {
  long long t0 = now(CLOCK_MONOTONIC);
  long long until = now(c) + offset_ms * 1000000LL;
  struct timespec abs = {(time_t)(until / 1000000000LL), (long)(until % 1000000000LL)};
  int r = clock_nanosleep(c, TIMER_ABSTIME, &abs, NULL);
  long long elapsed = now(CLOCK_MONOTONIC) - t0;
  printf("%s: %s, deadline-reached %s, under-1s %s\n", label, r ? errname(r) : "ok",
         yesno(now(c) >= until), yesno(elapsed < 1000000000LL));
}

int main(void) {
  sleep_until("abs-monotonic-+25ms", CLOCK_MONOTONIC, 25);
  sleep_until("abs-monotonic--5ms", CLOCK_MONOTONIC, -5);
  sleep_until("abs-realtime--5ms", CLOCK_REALTIME, -5);
  sleep_until("abs-monotonic-now", CLOCK_MONOTONIC, 0);
  return 0;
}
