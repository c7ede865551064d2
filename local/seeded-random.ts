/**
 * mulberry32: a tiny seeded PRNG (uniform in [0, 1)), so generated demo traffic and test data are the
 * same for a seed on every machine. Not for anything secret. Changing it changes every generated data
 * set the tests and benchmarks compare against.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
