import { describe, expect, it } from "vitest";
import { MemoryRateLimiter } from "../../../src/platform/rate-limit/rate-limiter.js";

describe("MemoryRateLimiter (fixed windows)", () => {
  it("allows `points` per window per key, then answers with the time left", async () => {
    let now = 1_000_000;
    const limiter = new MemoryRateLimiter({ points: 3, windowMs: 60_000 }, () => now);
    const take = () => limiter.take("alice");
    expect(await take()).toEqual({ allowed: true, remaining: 2 });
    expect(await take()).toEqual({ allowed: true, remaining: 1 });
    now += 10_000;
    expect(await take()).toEqual({ allowed: true, remaining: 0 });
    expect(await take()).toEqual({ allowed: false, retryAfterMs: 50_000 });
    expect(await limiter.take("bob")).toEqual({ allowed: true, remaining: 2 }); // keys apart
    now += 50_000; // the window ends
    expect(await take()).toEqual({ allowed: true, remaining: 2 });
  });

  it("keeps memory bounded by the active keys", async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ points: 1, windowMs: 1_000 }, () => now);
    for (let i = 0; i < 10_000; i++) await limiter.take(`k${i}`);
    now += 1_000;
    await limiter.take("fresh"); // sweeps the 10,000 expired windows
    expect((limiter as unknown as { windows: Map<string, unknown> }).windows.size).toBe(1);
  });
});
