import { expect } from "vitest";
/**
 * Linear-time check for functions over user input (issue 10): time `fn` on an adversarial
 * input and on the same input doubled, best of several runs each, interleaved, and report
 * the ratio (about 2 when linear, about 4 when quadratic). Sizes grow until one run takes
 * at least `minMs`, so timer resolution and fixed costs do not flatter a quadratic function.
 * A ratio spoiled by other load is measured again (a quadratic one stays high every time).
 */
export interface LinearityResult {
  chars: number;
  smallMs: number;
  largeMs: number;
  ratio: number;
}

export interface LinearityOptions {
  /** Least duration of one run of the smaller input. @default 20 */
  minMs?: number;
  /** Runs per size; the best counts. @default 5 */
  runs?: number;
  /** Attempts before giving up on a ratio under `limit`. @default 3 */
  attempts?: number;
  /** @default 3 */
  limit?: number;
  /** Largest repeat count tried while sizing. @default 2^22 */
  maxRepeat?: number;
  /**
   * Least input length: both sizes well beyond the CPU caches, so doubling measures the
   * algorithm, not a cache boundary. A function already slower than 10x `minMs` stops
   * growing sooner (quadratic ones fail fast). @default 2^21
   */
  minChars?: number;
  /** A run this long is long enough whatever the length. @default 10 * minMs */
  maxMs?: number;
}

function best(fn: () => unknown, runs: number): number {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

/**
 * A flat copy of `s`. `"x".repeat(n)` and `+` build rope strings, slower to read than the
 * flat strings a decoded file or a database cell arrives as; measure what production sees.
 */
export function flat(s: string): string {
  // Latin-1 text stays a one-byte string, as V8 stores it when decoded.
  return /^[\x00-\xff]*$/.test(s) ? Buffer.from(s, "latin1").toString("latin1") : Buffer.from(s, "utf16le").toString("utf16le");
}

/** `make(n)` builds the input for a repeat count n (usually `unit.repeat(n)`). */
export function measureLinearity(fn: (input: string) => unknown, makeRope: (n: number) => string, opts: LinearityOptions = {}): LinearityResult {
  const make = (n: number): string => flat(makeRope(n));
  const minMs = opts.minMs ?? 20;
  const runs = opts.runs ?? 5;
  const attempts = opts.attempts ?? 3;
  const limit = opts.limit ?? 3;
  const maxRepeat = opts.maxRepeat ?? 1 << 22;
  const minChars = opts.minChars ?? 1 << 21;
  const maxMs = opts.maxMs ?? 10 * minMs;
  let n = 64;
  let small = make(n);
  fn(small); // warm-up
  for (;;) {
    const ms = best(() => fn(small), 3);
    if (n >= maxRepeat || ms >= maxMs || (ms >= minMs && small.length >= minChars)) break;
    n *= 2;
    small = make(n);
  }
  let large = make(2 * n);
  let result: LinearityResult = { chars: small.length, smallMs: 0, largeMs: 0, ratio: Infinity };
  for (let a = 0; a < attempts && result.ratio >= limit; ) {
    let s = Infinity;
    let l = Infinity;
    for (let r = 0; r < runs; r++) {
      s = Math.min(s, best(() => fn(small), 1));
      l = Math.min(l, best(() => fn(large), 1));
    }
    result = { chars: small.length, smallMs: s, largeMs: l, ratio: l / s };
    // Sized on a lucky run: too short to measure; go larger (not counted as an attempt).
    if (s < minMs && n < maxRepeat) {
      n *= 2;
      small = large;
      large = make(2 * n);
      result.ratio = Infinity;
      continue;
    }
    a++;
  }
  return result;
}

/**
 * Asserts linear time: the doubled input takes under `limit` times as long, unless even the
 * input at the largest size runs in under `minMs` (nothing quadratic is that fast).
 */
export function expectLinear(fn: (input: string) => unknown, make: (n: number) => string, opts: LinearityOptions = {}): LinearityResult {
  const r = measureLinearity(fn, make, opts);
  // Under `minMs` even at the largest size: too fast to time, and nothing quadratic is.
  if (r.smallMs >= (opts.minMs ?? 20)) expect(r.ratio, JSON.stringify(r)).toBeLessThan(opts.limit ?? 3);
  return r;
}
