import type { Redis } from "ioredis";

/**
 * A per-key rate limit: at most `points` attempts per `windowMs` (fixed windows, so a burst
 * at a window's edge may see up to twice `points` in one window's length: enough to stop a
 * port scanner or a password guesser, and cheap: one counter per key).
 *
 * Two implementations behind one port, like the pub/sub and queue adapters: in memory (one
 * process) and Redis (holds across every instance sharing the Redis).
 */
export interface RateLimiter {
  /** Counts one attempt for `key`: allowed, or refused with the time until the window ends. */
  take(key: string): Promise<RateVerdict>;
}

export type RateVerdict = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export interface RateLimit {
  points: number;
  windowMs: number;
}

/** One process. Expired windows are swept when the map grows, so memory stays bounded by the active keys. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): Promise<RateVerdict> {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.windows.size >= 10_000) this.sweep(now);
      window = { count: 0, resetAt: now + this.limit.windowMs };
      this.windows.set(key, window);
    }
    window.count++;
    return Promise.resolve(verdict(this.limit, window.count, window.resetAt - now));
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/**
 * Across instances: INCR on one key per (prefix, key), with the window as its expiry, in one
 * Lua call so that the first increment and the expiry cannot be separated by a crash.
 */
export class RedisRateLimiter implements RateLimiter {
  private static readonly SCRIPT = `
    local n = redis.call('INCR', KEYS[1])
    if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
    return { n, ttl }`;

  constructor(
    private readonly redis: Redis,
    private readonly limit: RateLimit,
    private readonly prefix: string,
  ) {}

  async take(key: string): Promise<RateVerdict> {
    const [count, ttl] = (await this.redis.eval(RedisRateLimiter.SCRIPT, 1, `${this.prefix}:rate:${key}`, String(this.limit.windowMs))) as [number, number];
    return verdict(this.limit, Number(count), Number(ttl));
  }
}

function verdict(limit: RateLimit, count: number, msLeft: number): RateVerdict {
  if (count <= limit.points) return { allowed: true, remaining: limit.points - count };
  return { allowed: false, retryAfterMs: Math.max(1, msLeft) };
}

/** Redis when the deployment has one (the limit holds across instances), in memory otherwise. */
export function createRateLimiter(limit: RateLimit, redis: Redis | null, prefix: string): RateLimiter {
  return redis ? new RedisRateLimiter(redis, limit, prefix) : new MemoryRateLimiter(limit);
}
