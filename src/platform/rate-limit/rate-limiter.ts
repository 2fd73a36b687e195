import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * A per-key rate limit: at most `points` attempts allowed in any `windowMs` (a sliding log: the
 * times of the allowed attempts within the last window are kept, so no burst at a window's edge
 * lets twice `points` through, as fixed windows did). Refused attempts are not counted: a key is
 * allowed again as soon as its oldest allowed attempt leaves the window, and `retryAfterMs` says
 * when that is.
 *
 * Two implementations behind one port, like the pub/sub and queue adapters: in memory (one
 * process) and Redis (holds across every instance sharing the Redis).
 */
export interface RateLimiter {
  /** Counts one attempt for `key`: allowed, or refused with the time until one more is allowed. */
  take(key: string): Promise<RateVerdict>;
}

export type RateVerdict = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export interface RateLimit {
  points: number;
  windowMs: number;
}

/** Stamps the memory limiter may hold in all (8 bytes each): the default key bound is this over `points`. */
const STAMP_BUDGET = 1_000_000;
const MAX_KEYS = 100_000;

/**
 * One process, with a hard bound on keys (`maxKeys`, by default 100,000 or fewer so that all
 * keys together hold at most a million timestamps).
 *
 * Each key sits in one of two queues (doubly linked lists: O(1) to move a key to the back or to
 * drop the front), kept in the order of the keys' last allowed attempt, so the front of each
 * queue is the key whose log empties first:
 * - `open`: fewer than `points` attempts in the window when last allowed;
 * - `limited`: `points` attempts in the window: refused until the oldest leaves it.
 * Every take first drops the keys whose log has emptied from the front of both queues (each key
 * is dropped once: O(1) amortised); when a new key finds the bound reached it evicts the least
 * recently allowed open key (which forgets fewer than `points` attempts). Limited keys are never
 * evicted before their log empties: when every slot holds one, the new key is refused until the
 * first of them expires, so a flood of new keys cannot free a limited key.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly keys = new Map<string, Entry>();
  private readonly open = new Queue();
  private readonly limited = new Queue();
  readonly maxKeys: number;
  /** Open keys evicted to make room (their history forgotten), since start. */
  evictions = 0;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
    maxKeys?: number,
  ) {
    this.maxKeys = Math.max(1, maxKeys ?? Math.min(MAX_KEYS, Math.floor(STAMP_BUDGET / limit.points)));
  }

  /** Keys held now (never more than `maxKeys`). */
  get size(): number {
    return this.keys.size;
  }

  take(key: string): Promise<RateVerdict> {
    const now = this.now();
    const { points, windowMs } = this.limit;
    this.dropExpired(this.open, now - windowMs);
    this.dropExpired(this.limited, now - windowMs);
    let entry = this.keys.get(key);
    if (entry) {
      dropBefore(entry.stamps, now - windowMs);
      if (entry.stamps.length >= points) return Promise.resolve({ allowed: false, retryAfterMs: Math.max(1, Math.ceil(entry.stamps[0]! + windowMs - now)) });
      entry.queue!.remove(entry);
    } else {
      const wait = this.makeRoom(now);
      if (wait > 0) return Promise.resolve({ allowed: false, retryAfterMs: wait });
      entry = { key, stamps: [], queue: null, prev: null, next: null };
      this.keys.set(key, entry);
    }
    entry.stamps.push(now);
    (entry.stamps.length >= points ? this.limited : this.open).push(entry);
    return Promise.resolve({ allowed: true, remaining: points - entry.stamps.length });
  }

  /** Makes room for one more key: 0, or the ms until a slot frees when every slot holds a limited key. */
  private makeRoom(now: number): number {
    if (this.keys.size < this.maxKeys) return 0;
    const oldestOpen = this.open.head;
    if (oldestOpen) {
      this.open.remove(oldestOpen);
      this.keys.delete(oldestOpen.key);
      this.evictions++;
      return 0;
    }
    const first = this.limited.head!.stamps;
    return Math.max(1, Math.ceil(first[first.length - 1]! + this.limit.windowMs - now));
  }

  /** Drops, from the front, the keys whose newest stamp is at or before `horizon` (their log is empty). */
  private dropExpired(queue: Queue, horizon: number): void {
    for (let entry = queue.head; entry && entry.stamps[entry.stamps.length - 1]! <= horizon; entry = queue.head) {
      queue.remove(entry);
      this.keys.delete(entry.key);
    }
  }
}

interface Entry {
  key: string;
  /** Times of the allowed attempts still in the window, ascending. */
  stamps: number[];
  queue: Queue | null;
  prev: Entry | null;
  next: Entry | null;
}

/** A doubly linked list of entries (a Map's insertion order would do, but V8 leaves a hole per
 * deleted entry until the next rehash and walks over them from the front: O(n) per sweep). */
class Queue {
  head: Entry | null = null;
  private tail: Entry | null = null;

  push(entry: Entry): void {
    entry.queue = this;
    entry.prev = this.tail;
    entry.next = null;
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
  }

  remove(entry: Entry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.queue = entry.prev = entry.next = null;
  }
}

/** Drops the stamps at or before `horizon` from the front of an ascending log. */
function dropBefore(stamps: number[], horizon: number): void {
  let i = 0;
  while (i < stamps.length && stamps[i]! <= horizon) i++;
  if (i > 0) stamps.splice(0, i);
}

/**
 * Sliding log in one sorted set per (prefix, key): scores are the allowed attempts' times in
 * ms by Redis's clock (one clock for every instance). One Lua call drops the stamps that left
 * the window, counts, adds the new one and sets the key to expire with its newest stamp, so
 * two instances cannot both take the last attempt.
 */
const TAKE_SCRIPT = `
local window = tonumber(ARGV[1])
local points = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < points then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return { 1, points - n - 1 }
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { 0, math.max(1, tonumber(oldest[2]) + window - now) }`;

/** The command's name on the client; ioredis keeps one definition per client. */
const TAKE_COMMAND = "dataguardianRateTake";
type TakeCommand = (key: string, windowMs: number, points: number, member: string) => Promise<[number, number]>;

/**
 * Across instances. The script is registered with ioredis `defineCommand`: ioredis sends its
 * text once per connection (EVAL), then only its SHA1 (EVALSHA), and sends the text again by
 * itself when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly command: TakeCommand;
  /** Members of the sorted set must be unique: this instance's tag and a counter. */
  private readonly tag = randomBytes(6).toString("base64url");
  private seq = 0;

  constructor(
    redis: Redis,
    private readonly limit: RateLimit,
    private readonly prefix: string,
  ) {
    const client = redis as Redis & { [TAKE_COMMAND]?: TakeCommand };
    if (typeof client[TAKE_COMMAND] !== "function") client.defineCommand(TAKE_COMMAND, { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.command = client[TAKE_COMMAND]!.bind(client);
  }

  async take(key: string): Promise<RateVerdict> {
    const [ok, value] = await this.command(`${this.prefix}:rate:${key}`, this.limit.windowMs, this.limit.points, `${this.tag}:${++this.seq}`);
    return Number(ok) === 1 ? { allowed: true, remaining: Number(value) } : { allowed: false, retryAfterMs: Number(value) };
  }
}

/** Redis when the deployment has one (the limit holds across instances), in memory otherwise. */
export function createRateLimiter(limit: RateLimit, redis: Redis | null, prefix: string): RateLimiter {
  return redis ? new RedisRateLimiter(redis, limit, prefix) : new MemoryRateLimiter(limit);
}
