/**
 * Recurse until the stack overflows, then, unwinding, call `attempt(i)`
 * at each of the `levels` deepest frames: the first calls start with
 * almost no stack, each next one with a frame more, so the overflow lands
 * at every point of the call in turn. Returns how many attempts threw.
 * (Under vitest an import read near the limit may throw a TypeError
 * rather than a RangeError; any throw is an interruption here.)
 */
export function nearTheStackLimit(levels: number, attempt: (i: number) => void): number {
  let next = 0;
  let thrown = 0;
  const dive = (): void => {
    try {
      dive();
    } catch {
      // The bottom: unwind.
    }
    if (next < levels) {
      const i = next++;
      try {
        attempt(i);
      } catch {
        thrown++;
      }
    }
  };
  dive();
  return thrown;
}
