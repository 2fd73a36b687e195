import type { Logger } from "../observability/logger.js";
import { createRedis } from "../redis/redis.js";
import { MemoryPubSub } from "./memory.pubsub.js";
import type { PubSub } from "./pubsub.js";
import { RedisPubSub } from "./redis.pubsub.js";

/**
 * The pub/sub adapter for a configuration, chosen beside the adapters (issue 15), as
 * `createScanQueue` does for the queue: Redis pub/sub when REDIS_URL is set (events reach every
 * instance), in-process otherwise. The Redis adapter gets two connections of its own (a
 * subscribing connection can do nothing else).
 */
export function createPubSub(config: { REDIS_URL?: string | undefined; REDIS_PREFIX: string }, log: Logger): PubSub {
  if (!config.REDIS_URL) return new MemoryPubSub();
  return new RedisPubSub(createRedis(config.REDIS_URL, "dg-pub", log), createRedis(config.REDIS_URL, "dg-sub", log), config.REDIS_PREFIX);
}
