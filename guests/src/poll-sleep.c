// poll-sleep: nanosleep / clock_nanosleep (relative, absolute realtime) sleep at
// least as long as asked, measured on the monotonic clock; poll() with only a
// timeout waits; poll() reports a regular file readable and writable at once.
#include "common.h"
#include <poll.h>
#include <time.h>
#include <wasi/api.h>

static long long mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

#define MS 1000000LL

int main(void) {
  long long t0 = mono();
  struct timespec req = {0, 20 * MS};
  REPORT("nanosleep-20ms", nanosleep(&req, NULL));
  printf("nanosleep-elapsed>=20ms: %s\n", yesno(mono() - t0 >= 20 * MS));

  t0 = mono();
  REPORT("clock-nanosleep-rel-15ms", clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){0, 15 * MS}, NULL));
  printf("clock-nanosleep-rel-elapsed>=15ms: %s\n", yesno(mono() - t0 >= 15 * MS));

  // Absolute: sleep until realtime now + 25 ms. (Absolute monotonic
  // deadlines and deadlines already past are in sleep-abs.c: they hang
  // node:wasi.)
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  long long until = (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec + 25 * MS;
  struct timespec abs = {(time_t)(until / 1000000000LL), (long)(until % 1000000000LL)};
  t0 = mono();
  REPORT("clock-nanosleep-abs-realtime-25ms", clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL));
  printf("clock-nanosleep-abs-realtime-elapsed>=20ms: %s\n", yesno(mono() - t0 >= 20 * MS));

  t0 = mono();
  REPORT("usleep-10ms", usleep(10000));
  printf("usleep-elapsed>=10ms: %s\n", yesno(mono() - t0 >= 10 * MS));

  // A zero sleep returns at once, successfully.
  REPORT("nanosleep-0", nanosleep(&(struct timespec){0, 0}, NULL));
  REPORT("nanosleep-bad-nsec", nanosleep(&(struct timespec){0, 1000000000}, NULL));

  // poll() with no fds is a sleep.
  t0 = mono();
  printf("poll-timeout-only: %d\n", poll(NULL, 0, 10));
  printf("poll-timeout-elapsed>=10ms: %s\n", yesno(mono() - t0 >= 10 * MS));

  // A regular file is always ready.
  mkdir_or_die("/t-poll");
  write_file("/t-poll/f", "data");
  int fd = open("/t-poll/f", O_RDWR);
  struct pollfd p = {fd, POLLIN, 0};
  errno = 0;
  int n = poll(&p, 1, 1000);
  printf("poll-file-in: %d %s, revents-pollin %s\n", n, n < 0 ? errname(errno) : "ok", yesno(p.revents & POLLIN));
  p = (struct pollfd){fd, POLLOUT, 0};
  n = poll(&p, 1, 1000);
  printf("poll-file-out: %d, revents-pollout %s\n", n, yesno(p.revents & POLLOUT));
  p = (struct pollfd){fd, POLLIN | POLLOUT, 0};
  n = poll(&p, 1, 0);
  printf("poll-file-inout-no-wait: %d, in %s, out %s\n", n, yesno(p.revents & POLLIN), yesno(p.revents & POLLOUT));
  close(fd);

  // sched_yield works.
  report_errno("sched-yield", __wasi_sched_yield());

  // Raw poll_oneoff with two clock subscriptions (2 s and 5 ms): only the
  // shorter fires.
  __wasi_subscription_t subs[2];
  memset(subs, 0, sizeof subs);
  subs[0].userdata = 111;
  subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
  subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  subs[0].u.u.clock.timeout = 2000 * MS;
  subs[1].userdata = 222;
  subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
  subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  subs[1].u.u.clock.timeout = 5 * MS;
  __wasi_event_t ev[2];
  __wasi_size_t nev = 0;
  t0 = mono();
  report_errno("poll-oneoff-two-clocks", __wasi_poll_oneoff(subs, ev, 2, &nev));
  printf("poll-oneoff-first: n %u, userdata %llu, type-clock %s, error %s, elapsed<2s %s\n", (unsigned)nev,
         nev ? (unsigned long long)ev[0].userdata : 0ULL, yesno(nev && ev[0].type == __WASI_EVENTTYPE_CLOCK),
         nev ? (ev[0].error ? errname(ev[0].error) : "none") : "-", yesno(mono() - t0 < 2000 * MS));
  report_errno("poll-oneoff-zero-subs", __wasi_poll_oneoff(subs, ev, 0, &nev));
  return 0;
}
