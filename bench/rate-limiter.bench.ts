/**
 * The in-memory rate limiter under a flood of distinct keys, all within one window: the time per
 * new key and the keys held, for the limiter against the fixed-window one it replaced (which
 * swept the whole map on every new key past 10,000 live keys), in the same process. Prints
 * ratios; asserts nothing.
 *
 *   node --import @swc-node/register/esm-register bench/rate-limiter.bench.ts [--keys 50000]
 */
import os from "node:os";
import { MemoryRateLimiter } from "../src/platform/rate-limit/rate-limiter.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const keys = Number(arg("keys", "50000"));

/** The previous MemoryRateLimiter (fixed windows, O(n) sweep per new key past 10,000 keys). */
class FixedWindowBaseline {
  readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(private readonly now: () => number) {}
  take(key: string): boolean {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.windows.size >= 10_000) for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
      window = { count: 0, resetAt: now + 60_000 };
      this.windows.set(key, window);
    }
    return ++window.count <= 10;
  }
}

function flood(take: (key: string) => unknown): number {
  const t0 = performance.now();
  for (let i = 0; i < keys; i++) take(`flood-${i}`);
  return performance.now() - t0;
}

console.log(`rate limiter flood of ${keys} distinct keys (cpus ${os.availableParallelism()}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`);
let now = 0;
const clock = () => now;
for (let round = 0; round < 3; round++) {
  now = round * 1e9;
  const baseline = new FixedWindowBaseline(clock);
  const limiter = new MemoryRateLimiter({ points: 10, windowMs: 60_000 }, clock, 10_000);
  const base = flood((k) => baseline.take(k));
  const mine = flood((k) => void limiter.take(k));
  console.log(
    `round ${round + 1}: baseline ${(base / keys * 1000).toFixed(2)} µs/key, ${baseline.windows.size} keys held; ` +
      `sliding log ${(mine / keys * 1000).toFixed(2)} µs/key, ${limiter.size} keys held (${limiter.evictions} evicted); ratio ${(base / mine).toFixed(1)}x`,
  );
}
