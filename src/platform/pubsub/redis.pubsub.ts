import { RedisPubSub as GraphQLRedisPubSub } from "graphql-redis-subscriptions";
import type { Redis } from "ioredis";
import { iterateTopic, type PubSub } from "./pubsub.js";

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** JSON reviver: dates cross Redis as ISO strings and come back as Dates. */
export const reviveDates = (_key: unknown, value: unknown): unknown =>
  typeof value === "string" && ISO_DATE.test(value) ? new Date(value) : value;

/**
 * PubSub over Redis pub/sub (graphql-redis-subscriptions): publisher and subscriber are two
 * ioredis connections; channels are `<prefix>:<topic>` so deployments can share a Redis.
 */
export class RedisPubSub implements PubSub {
  readonly local = false;
  private readonly engine: GraphQLRedisPubSub;
  private readonly changeListeners = new Set<(connected: boolean) => void>();
  private closed: Promise<void> | null = null;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {
    this.engine = new GraphQLRedisPubSub({ publisher, subscriber, reviver: reviveDates });
    let connected = subscriber.status === "ready";
    subscriber.on("ready", () => {
      if (!connected) for (const l of this.changeListeners) l(true);
      connected = true;
    });
    subscriber.on("close", () => {
      if (connected) for (const l of this.changeListeners) l(false);
      connected = false;
    });
  }

  private channel(topic: string): string {
    return `${this.prefix}:${topic}`;
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    await this.engine.publish(this.channel(topic), payload);
  }

  async listen(topic: string, listener: (payload: unknown) => void): Promise<() => Promise<void>> {
    const id = await this.engine.subscribe(this.channel(topic), listener);
    return async () => this.engine.unsubscribe(id);
  }

  subscribe(topic: string): AsyncIterableIterator<unknown> {
    return iterateTopic((l) => this.listen(topic, l));
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.changeListeners.clear();
      await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
    })();
    return this.closed;
  }
}
