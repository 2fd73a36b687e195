import { iterateTopic, type PubSub } from "./pubsub.js";

const RESOLVED: Promise<void> = Promise.resolve();

/** In-process PubSub for a single instance (the embedded default). */
export class MemoryPubSub implements PubSub {
  readonly local = true;
  /** Per topic, its listeners (an array: iterated on every publish, changed only on listen/unlisten). */
  private readonly listeners = new Map<string, Array<(payload: unknown) => void>>();

  /**
   * Delivers synchronously, before it returns (a resolved promise, no allocation per call).
   * The payload is shared by the listeners as is (no copy: publishers build a fresh object per
   * event and listeners treat payloads as read-only, as they would a parsed Redis message).
   * Listeners added or removed while delivering take effect from the next event (the array
   * is replaced, never changed in place).
   */
  publish(topic: string, payload: unknown): Promise<void> {
    const list = this.listeners.get(topic);
    if (list) {
      for (let i = 0; i < list.length; i++) {
        try {
          list[i]!(payload);
        } catch {
          // a failing listener must not stop delivery to the others
        }
      }
    }
    return RESOLVED;
  }

  async listen(topic: string, listener: (payload: unknown) => void): Promise<() => Promise<void>> {
    this.listeners.set(topic, [...(this.listeners.get(topic) ?? []), listener]);
    let listening = true;
    return async () => {
      const list = this.listeners.get(topic);
      const at = listening && list ? list.indexOf(listener) : -1;
      listening = false;
      if (at < 0) return;
      if (list!.length === 1) this.listeners.delete(topic);
      else this.listeners.set(topic, [...list!.slice(0, at), ...list!.slice(at + 1)]);
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
