import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryRateLimiter } from "../../../src/platform/rate-limit/rate-limiter.js";

describe("MemoryRateLimiter (sliding log)", () => {
  it("allows `points` per window per key, then answers with the time until the oldest attempt leaves it", async () => {
    let now = 1_000_000;
    const limiter = new MemoryRateLimiter({ points: 3, windowMs: 60_000 }, () => now);
    const take = () => limiter.take("alice");
    expect(await take()).toEqual({ allowed: true, remaining: 2 });
    expect(await take()).toEqual({ allowed: true, remaining: 1 });
    now += 10_000;
    expect(await take()).toEqual({ allowed: true, remaining: 0 });
    expect(await take()).toEqual({ allowed: false, retryAfterMs: 50_000 });
    expect(await limiter.take("bob")).toEqual({ allowed: true, remaining: 2 }); // keys apart
    now += 50_000; // the first two leave the window; the third (10 s later) is still in it
    expect(await take()).toEqual({ allowed: true, remaining: 1 });
    expect(await take()).toEqual({ allowed: true, remaining: 0 });
    expect(await take()).toEqual({ allowed: false, retryAfterMs: 10_000 });
  });

  it("lets no more than `points` through in any window's length, also across a window's edge", async () => {
    // Fixed windows let 2 x points through around an edge (points at its end, points at the next start).
    let now = 0;
    const points = 10;
    const windowMs = 60_000;
    const limiter = new MemoryRateLimiter({ points, windowMs }, () => now);
    const allowedAt: number[] = [];
    for (now = 0; now < 5 * windowMs; now += 500) {
      for (let i = 0; i < 3; i++) if ((await limiter.take("eve")).allowed) allowedAt.push(now);
    }
    for (const start of allowedAt) {
      expect(allowedAt.filter((t) => t >= start && t < start + windowMs).length).toBeLessThanOrEqual(points);
    }
    expect(allowedAt.length).toBe(5 * points); // and the limit is reached in every window
  });

  it("property: under key pressure the bound holds and a refused key stays refused until its retry time", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.constantFrom("a", "b", "c", "d")), { maxLength: 300 }),
        async (points, windowMs, steps) => {
          let now = 0;
          const limiter = new MemoryRateLimiter({ points, windowMs }, () => now, 2); // 2 slots for 4 keys
          const refusedUntil = new Map<string, number>();
          for (const [gap, key] of steps) {
            now += gap;
            const verdict = await limiter.take(key);
            expect(limiter.size).toBeLessThanOrEqual(2);
            // A key refused for being limited is not freed by other keys' traffic (no eviction of limited keys).
            if (now < (refusedUntil.get(key) ?? -Infinity)) expect(verdict.allowed).toBe(false);
            if (!verdict.allowed) {
              expect(verdict.retryAfterMs).toBeGreaterThan(0);
              expect(verdict.retryAfterMs).toBeLessThanOrEqual(windowMs);
              refusedUntil.set(key, Math.max(refusedUntil.get(key) ?? -Infinity, now + verdict.retryAfterMs));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("property: with room for every key, the verdicts are those of an exact sliding log", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.constantFrom("a", "b", "c")), { maxLength: 200 }),
        async (points, windowMs, steps) => {
          let now = 0;
          const limiter = new MemoryRateLimiter({ points, windowMs }, () => now, 3);
          const allowed = new Map<string, number[]>();
          for (const [gap, key] of steps) {
            now += gap;
            const inWindow = (allowed.get(key) ?? []).filter((t) => t > now - windowMs);
            const expected = inWindow.length < points
              ? { allowed: true, remaining: points - inWindow.length - 1 }
              : { allowed: false, retryAfterMs: inWindow[0]! + windowMs - now };
            expect(await limiter.take(key)).toEqual(expected);
            if (expected.allowed) allowed.set(key, [...inWindow, now]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refused attempts do not count: the key is allowed again when its oldest allowed attempt leaves the window", async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ points: 1, windowMs: 1_000 }, () => now);
    expect((await limiter.take("k")).allowed).toBe(true);
    for (now = 100; now < 1_000; now += 100) expect(await limiter.take("k")).toEqual({ allowed: false, retryAfterMs: 1_000 - now });
    now = 1_000;
    expect((await limiter.take("k")).allowed).toBe(true);
  });

  it("drops keys whose log has emptied", async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ points: 1, windowMs: 1_000 }, () => now);
    for (let i = 0; i < 10_000; i++) await limiter.take(`k${i}`);
    now += 1_000;
    await limiter.take("fresh"); // the 10,000 other logs are empty
    expect(limiter.size).toBe(1);
  });

  it.each([1, 3])("holds at most maxKeys under a flood of 100,000 distinct keys, and a limited key stays limited (points %i)", async (points) => {
    let now = 0;
    const maxKeys = 10_000;
    const limiter = new MemoryRateLimiter({ points, windowMs: 3_600_000 }, () => now, maxKeys);
    for (let i = 0; i < points; i++) expect((await limiter.take("mallory")).allowed).toBe(true);
    expect((await limiter.take("mallory")).allowed).toBe(false);
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      now += 1; // 100,000 keys in 100 s, well within the window
      await limiter.take(`flood-${i}`);
      peak = Math.max(peak, limiter.size);
    }
    expect(peak).toBe(maxKeys);
    const verdict = await limiter.take("mallory");
    expect(verdict.allowed).toBe(false);
    if (!verdict.allowed) expect(verdict.retryAfterMs).toBe(3_600_000 - 100_000);
    // Open keys were evicted to make room (points 3: each flood key took one of its three).
    if (points > 1) expect(limiter.evictions).toBe(100_000 - (maxKeys - 1));
    now += 3_600_000; // every log empties: mallory is allowed again and the space comes back
    expect((await limiter.take("mallory")).allowed).toBe(true);
    expect(limiter.size).toBe(1);
  });

  it("with every slot held by a limited key, a new key is refused until the first of them expires", async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ points: 1, windowMs: 1_000 }, () => now, 2);
    await limiter.take("a");
    now = 100;
    await limiter.take("b");
    expect(await limiter.take("c")).toEqual({ allowed: false, retryAfterMs: 900 });
    expect((await limiter.take("a")).allowed).toBe(false); // not evicted
    now = 1_000; // a's log empties
    expect(await limiter.take("c")).toEqual({ allowed: true, remaining: 0 });
    expect(limiter.size).toBe(2);
  });

  it("bounds keys by a stamp budget when points is large", () => {
    expect(new MemoryRateLimiter({ points: 10, windowMs: 60_000 }).maxKeys).toBe(100_000);
    expect(new MemoryRateLimiter({ points: 10_000, windowMs: 60_000 }).maxKeys).toBe(100);
  });
});
