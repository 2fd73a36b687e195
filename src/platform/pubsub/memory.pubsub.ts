import { iterateTopic, type PubSub } from "./pubsub.js";

/** In-process PubSub for a single instance (the embedded default). */
export class MemoryPubSub implements PubSub {
  readonly local = true;
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();

  async publish(topic: string, payload: unknown): Promise<void> {
    const set = this.listeners.get(topic);
    if (!set) return;
    // Delivered as is, shared by the listeners (no copy: publishers build a fresh object per
    // event and listeners treat payloads as read-only, as they would a parsed Redis message).
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch {
        // a failing listener must not stop delivery to the others
      }
    }
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
