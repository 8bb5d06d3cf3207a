/**
 * The one seeded PRNG of the benchmarks, the fuzzer and the tests: mulberry32 (Tommy Ettinger's 32-bit generator).
 * Small, fast and good enough to generate test data and pick mutations; not for anything cryptographic. The same
 * seed gives the same sequence on every platform, so generated data (and the results measured on it) is stable.
 */

/** A generator of uniform floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
