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

describe.runIf(run)("RedisRateLimiter", () => {
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
    expect(await a.pttl(`${prefix}:rate:alice`)).toBeGreaterThan(50_000); // the window expires by itself
  });

  it("a new window after the old one expires", async () => {
    const limiter = new RedisRateLimiter(a, { points: 1, windowMs: 1_000 }, prefix);
    expect((await limiter.take("carol")).allowed).toBe(true);
    expect((await limiter.take("carol")).allowed).toBe(false);
    await a.pexpire(`${prefix}:rate:carol`, 1); // end the window now instead of sleeping
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await limiter.take("carol")).allowed).toBe(true);
  });
});
