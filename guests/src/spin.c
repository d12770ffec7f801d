// spin: loops forever without making any call, so only a host-side timeout
// (or interrupt) can stop it.
int main(void) {
  volatile unsigned long n = 0;
  for (;;) n++;
}
