import { iterateTopic, type PubSub } from "./pubsub.js";

const RESOLVED: Promise<void> = Promise.resolve();

/** In-process PubSub for a single instance (the embedded default). */
export class MemoryPubSub implements PubSub {
  readonly local = true;
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();

  /**
   * Delivers synchronously, before it returns (a resolved promise, no allocation per call).
   * The payload is shared by the listeners as is (no copy: publishers build a fresh object per
   * event and listeners treat payloads as read-only, as they would a parsed Redis message).
   * A listener added while delivering gets the event too; a removed one does not (Set order).
   */
  publish(topic: string, payload: unknown): Promise<void> {
    const set = this.listeners.get(topic);
    if (set) {
      for (const listener of set) {
        try {
          listener(payload);
        } catch {
          // a failing listener must not stop delivery to the others
        }
      }
    }
    return RESOLVED;
  }

  async listen(topic: string, listener: (payload: unknown) => void): Promise<() => Promise<void>> {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(topic) === set) this.listeners.delete(topic);
    };
  }

  subscribe(topic: string): AsyncIterableIterator<unknown> {
    return iterateTopic((l) => this.listen(topic, l));
  }

  /** An in-process transport never disconnects. */
  onConnectionChange(_listener: (connected: boolean) => void): () => void {
    return () => undefined;
  }

  /** Number of topics with at least one listener (for tests and metrics). */
  get topicCount(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
