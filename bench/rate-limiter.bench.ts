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

// Redis (when REDIS_URL_TEST or REDIS_URL is set): the same takes sent as EVAL with the script's
// text each time (the previous RedisRateLimiter) and through defineCommand (EVALSHA).
const redisUrl = process.env.REDIS_URL_TEST ?? process.env.REDIS_URL;
if (redisUrl) {
  const { Redis } = await import("ioredis");
  const { RedisRateLimiter } = await import("../src/platform/rate-limit/rate-limiter.js");
  const client = new Redis(redisUrl);
  const prefix = `dgbench-${process.pid}`;
  const OLD_SCRIPT = `
    local n = redis.call('INCR', KEYS[1])
    if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
    return { n, ttl }`;
  const takes = Number(arg("takes", "20000"));
  const limiter = new RedisRateLimiter(client, { points: 10, windowMs: 60_000 }, prefix);
  await client.ping(); // connected: its socket counts the bytes written
  const netBytes = () => (client as unknown as { stream: { bytesWritten: number } }).stream.bytesWritten;
  for (let round = 0; round < 3; round++) {
    let b0 = netBytes();
    let t0 = performance.now();
    for (let i = 0; i < takes; i++) await client.eval(OLD_SCRIPT, 1, `${prefix}:old:${i % 1000}`, "60000");
    const oldMs = performance.now() - t0;
    const oldBytes = netBytes() - b0;
    b0 = netBytes();
    t0 = performance.now();
    for (let i = 0; i < takes; i++) await limiter.take(`k${i % 1000}`);
    const newMs = performance.now() - t0;
    const newBytes = netBytes() - b0;
    console.log(
      `redis round ${round + 1}: EVAL fixed window ${((oldMs / takes) * 1000).toFixed(0)} µs/take, ${(oldBytes / takes).toFixed(0)} B/take sent; ` +
        `EVALSHA sliding log ${((newMs / takes) * 1000).toFixed(0)} µs/take, ${(newBytes / takes).toFixed(0)} B/take sent; time ratio ${(oldMs / newMs).toFixed(2)}x`,
    );
  }
  const keys = await client.keys(`${prefix}:*`);
  for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
  client.disconnect();
}
