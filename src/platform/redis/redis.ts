import { Redis, type RedisOptions } from "ioredis";
import { withTimeout } from "../../shared/async.js";
import type { Logger } from "../observability/logger.js";

/**
 * One factory for every Redis connection (ioredis 5, RESP2). Reconnects forever with capped
 * backoff; logs state changes once rather than once per retry.
 */
export function createRedis(url: string, name: string, log: Logger, extra: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    connectionName: name,
    lazyConnect: false,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(200 * 2 ** Math.min(attempt, 6), 5_000),
    ...extra,
  });
  let up = false;
  client.on("ready", () => {
    if (!up) log.info({ redis: name }, "redis connected");
    up = true;
  });
  client.on("error", (err: Error) => {
    if (up) log.warn({ redis: name, err: err.message }, "redis connection error");
  });
  client.on("close", () => {
    if (up) log.warn({ redis: name }, "redis connection lost; reconnecting");
    up = false;
  });
  return client;
}

/** Waits for a PING answer, retrying with backoff; throws after `timeoutMs` with a clear line. */
export async function waitForRedis(client: Redis, log: Logger, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await withTimeout(client.ping(), 2_000);
      return;
    } catch (err) {
      const wait = Math.min(250 * 2 ** (attempt - 1), 5_000);
      if (Date.now() + wait > deadline) {
        throw new Error(`Redis did not answer within ${Math.round(timeoutMs / 1000)} s (${(err as Error).message}); check REDIS_URL`);
      }
      log.warn({ attempt, nextInMs: wait, err: (err as Error).message }, "waiting for Redis");
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
