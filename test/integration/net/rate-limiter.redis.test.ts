import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisRateLimiter } from "../../../src/platform/rate-limit/rate-limiter.js";
import { REDIS_TEST_URL, requireRedisOrSkip } from "../../support/redis.js";

const run = await requireRedisOrSkip("rate-limiter.redis.test.ts");
const prefix = `dgtest-${randomBytes(4).toString("hex")}`;
let a: Redis;
let b: Redis;

beforeAll(() => {
  if (!run) return;
  a = new Redis(REDIS_TEST_URL);
  b = new Redis(REDIS_TEST_URL);
});
afterAll(async () => {
  if (!run) return;
  const keys = await a.keys(`${prefix}:*`);
  if (keys.length > 0) await a.del(...keys);
  a.disconnect();
  b.disconnect();
});

describe.runIf(run)("RedisRateLimiter (sliding log)", () => {
  it("one count across instances (two clients, as two API processes would hold)", async () => {
    const limit = { points: 4, windowMs: 60_000 };
    const first = new RedisRateLimiter(a, limit, prefix);
    const second = new RedisRateLimiter(b, limit, prefix);
    const verdicts = await Promise.all([first, second, first, second, first, second].map((l) => l.take("alice")));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(4);
    const refused = verdicts.filter((v) => !v.allowed);
    expect(refused).toHaveLength(2);
    for (const v of refused) if (!v.allowed) expect(v.retryAfterMs).toBeGreaterThan(50_000);
    expect((await first.take("bob")).allowed).toBe(true);
    expect(await a.zcard(`${prefix}:rate:alice`)).toBe(4); // refused attempts are not logged
    expect(await a.pttl(`${prefix}:rate:alice`)).toBeGreaterThan(50_000); // the log expires by itself
  });

  it("slides: when the oldest attempt leaves the window one more is allowed, not a whole new window", async () => {
    const limiter = new RedisRateLimiter(a, { points: 2, windowMs: 60_000 }, prefix);
    const key = `${prefix}:rate:carol`;
    expect(await limiter.take("carol")).toEqual({ allowed: true, remaining: 1 });
    expect(await limiter.take("carol")).toEqual({ allowed: true, remaining: 0 });
    expect((await limiter.take("carol")).allowed).toBe(false);
    // Move the first attempt 61 s into the past (instead of sleeping): it has left the window.
    const [oldest] = await a.zrange(key, 0, 0);
    const [seconds] = await a.time();
    await a.zadd(key, Number(seconds) * 1000 - 61_000, oldest!);
    expect(await limiter.take("carol")).toEqual({ allowed: true, remaining: 0 });
    // A fixed window would have started afresh and allowed a second one here.
    const refused = await limiter.take("carol");
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) expect(refused.retryAfterMs).toBeGreaterThan(50_000);
  });

  it("sends the script's text once per connection, then only its SHA1, and recovers from SCRIPT FLUSH", async () => {
    const client = new Redis(REDIS_TEST_URL);
    const monitor = await new Redis(REDIS_TEST_URL).monitor();
    const seen: string[] = [];
    monitor.on("monitor", (_time: string, args: string[]) => {
      const name = String(args[0]).toLowerCase(); // the script's own commands are shown too
      if (name.startsWith("eval") && args.includes(`${prefix}:rate:dave`)) seen.push(name);
    });
    try {
      await client.ping(); // the monitor is listening once a command on another connection answers
      const limiter = new RedisRateLimiter(client, { points: 100, windowMs: 60_000 }, prefix);
      for (let i = 0; i < 5; i++) expect((await limiter.take("dave")).allowed).toBe(true);
      await client.script("FLUSH");
      expect((await limiter.take("dave")).allowed).toBe(true); // NOSCRIPT: ioredis sends the text again
      expect((await limiter.take("dave")).allowed).toBe(true);
      await expect.poll(() => seen.length).toBeGreaterThanOrEqual(8);
      expect(seen).toEqual(["eval", "evalsha", "evalsha", "evalsha", "evalsha", "evalsha", "eval", "evalsha"]);
    } finally {
      monitor.disconnect();
      client.disconnect();
    }
  });
});
