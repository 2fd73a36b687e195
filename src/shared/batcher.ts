import type { TurnScheduler } from "./turns.js";

/**
 * Batches keys into one call while earlier calls run (issue 11: a subscription storm shares its
 * queries). Unlike DataLoader's default (one batch per tick), keys that arrive while
 * `maxConcurrent` batches are in flight wait and go out together in the next one, so under load
 * batches grow instead of queries multiplying. No cache: every `load` reads fresh data.
 */
export class Batcher<K, V> {
  private queue: Array<{ key: K; resolve: (v: V) => void; reject: (e: unknown) => void }> = [];
  private running = 0;
  private scheduled = false;

  /**
   * @param loadMany answers `keys` in the same order.
   * @param options.maxBatch keys per call. @default 500
   * @param options.maxConcurrent calls in flight at once. @default 2
   * @param options.settleIn hands each caller its answer in turns of the event loop
   *   (shared/turns.ts) instead of all at once: when what each caller does next is heavy (a
   *   subscription starting), a batch of 500 would otherwise run as one long stall.
   */
  constructor(
    private readonly loadMany: (keys: K[]) => Promise<V[]>,
    private readonly options: { maxBatch?: number; maxConcurrent?: number; settleIn?: TurnScheduler } = {},
  ) {}

  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.scheduled || this.queue.length === 0 || this.running >= (this.options.maxConcurrent ?? 2)) return;
    this.scheduled = true;
    // setImmediate: every key that arrives in this turn of the event loop joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    if (this.queue.length === 0 || this.running >= (this.options.maxConcurrent ?? 2)) return;
    const batch = this.queue.splice(0, this.options.maxBatch ?? 500);
    this.running++;
    let call: Promise<V[]>;
    try {
      call = this.loadMany(batch.map((b) => b.key));
    } catch (err) {
      call = Promise.reject(err);
    }
    const turns = this.options.settleIn;
    call
      .then(
        (values) =>
          batch.forEach((b, i) => {
            if (turns) turns.schedule({ run: () => b.resolve(values[i]!) });
            else b.resolve(values[i]!);
          }),
        (err: unknown) =>
          batch.forEach((b) => {
            if (turns) turns.schedule({ run: () => b.reject(err) });
            else b.reject(err);
          }),
      )
      .finally(() => {
        this.running--;
        this.kick();
      });
    this.kick();
  }
}
