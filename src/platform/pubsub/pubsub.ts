import type { PubSub as TypeGraphQLPubSub } from "type-graphql";

/**
 * The PubSub port: events published on one instance reach subscribers on every instance
 * (Redis) or on this one (in-memory). Delivery is at-most-once: PostgreSQL holds the truth,
 * and subscribers re-read it after any reconnect (TOOLCHAIN.md).
 */
export interface PubSub extends TypeGraphQLPubSub {
  /** True when delivery stays in this process (publish cannot block on a network). */
  readonly local: boolean;
  publish(topic: string, payload: unknown): Promise<void>;
  /** Calls `listener` for every event on `topic` until the returned function is called. */
  listen(topic: string, listener: (payload: unknown) => void): Promise<() => Promise<void>>;
  /** An async iterable over a topic; ending the iteration unsubscribes. */
  subscribe(topic: string): AsyncIterableIterator<unknown>;
  /** Called with true/false when the transport loses or regains its connection. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  close(): Promise<void>;
}

/** One builder per topic, used by publishers and subscribers alike (STYLE.md). */
export const topics = {
  scanProgress: (scanId: string) => `scan:${scanId}`,
  userScans: (userId: string) => `user-scans:${encodeURIComponent(userId)}`,
  capacity: () => "capacity",
  /** Cancellation requests, broadcast so whichever worker holds the scan stops it. */
  scanCancel: () => "scan-cancel",
  /** Nudges workers when a queued scan may start. */
  scanWakeup: () => "scan-wakeup",
} as const;

/**
 * Turns a push-based `listen` into a pull-based async iterator with a bounded buffer.
 * When the buffer is full the oldest event is dropped: subscribers must treat events as
 * hints and PostgreSQL as the truth (scan events carry sequence numbers for that reason).
 */
export function iterateTopic(
  listen: (listener: (payload: unknown) => void) => Promise<() => Promise<void>>,
  maxBuffered = 1000,
): AsyncIterableIterator<unknown> {
  const buffer: unknown[] = [];
  let waiting: ((r: IteratorResult<unknown>) => void) | null = null;
  let done = false;
  let unlisten: (() => Promise<void>) | null = null;
  const ready = listen((payload) => {
    if (done) return;
    if (waiting) {
      const w = waiting;
      waiting = null;
      w({ value: payload, done: false });
      return;
    }
    if (buffer.length >= maxBuffered) buffer.shift();
    buffer.push(payload);
  }).then((u) => {
    unlisten = u;
    if (done) void u();
  });

  const finish = async (): Promise<IteratorResult<unknown>> => {
    if (!done) {
      done = true;
      buffer.length = 0;
      if (waiting) waiting({ value: undefined, done: true });
      waiting = null;
      await ready.catch(() => undefined);
      if (unlisten) await unlisten();
    }
    return { value: undefined, done: true };
  };

  const iterator: AsyncIterableIterator<unknown> = {
    async next() {
      await ready;
      if (buffer.length > 0) return { value: buffer.shift(), done: false };
      if (done) return { value: undefined, done: true };
      return new Promise((resolve) => (waiting = resolve));
    },
    return: finish,
    async throw(error?: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
