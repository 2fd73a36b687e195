import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";

/**
 * Redis for `*.redis.test.ts`. When no Redis answers, those tests are skipped with one visible
 * line saying why; with REQUIRE_REDIS=1 (CI) the missing Redis is a failure instead.
 */
export const REDIS_TEST_URL = process.env.REDIS_URL_TEST ?? "redis://127.0.0.1:6379";

export async function redisAvailable(): Promise<boolean> {
  const client = new Redis(REDIS_TEST_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Resolves whether to run; throws when Redis is required but missing. */
export async function requireRedisOrSkip(file: string): Promise<boolean> {
  if (await redisAvailable()) return true;
  if (process.env.REQUIRE_REDIS === "1") {
    throw new Error(`${file}: REQUIRE_REDIS=1 but no Redis answers at ${REDIS_TEST_URL}`);
  }
  console.warn(`[skip] ${file}: no Redis answers at ${REDIS_TEST_URL} (set REDIS_URL_TEST or start redis-server); Redis-backed tests skipped`);
  return false;
}

/** A key prefix unique to one test run, so parallel files never share keys (BullMQ's habit). */
export const uniquePrefix = (name: string) => `dgtest-${name}-${randomBytes(4).toString("hex")}`;
