import type { ScanJobHandler, ScanQueue } from "./scan-queue.js";

/**
 * The embedded default: a FIFO in this process. Nothing is lost on restart because the
 * QUEUED rows in PostgreSQL are re-enqueued at start-up (scan-maintenance.job.ts).
 */
export class InProcessScanQueue implements ScanQueue {
  readonly kind = "in-process" as const;
  private readonly pending: string[] = [];
  private readonly known = new Set<string>();
  private handler: ScanJobHandler | null = null;
  private concurrency = 0;
  private running = 0;
  private readonly active = new Set<Promise<void>>();
  /** Set when a job could not get a slot: wait for wake() (or a retry tick) before trying again. */
  private blocked = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly retryMs = 1_000) {}

  async enqueue(scanId: string): Promise<void> {
    if (this.known.has(scanId)) return;
    this.known.add(scanId);
    this.pending.push(scanId);
    this.pump();
  }

  startConsuming(handler: ScanJobHandler, concurrency: number): void {
    this.handler = handler;
    this.concurrency = concurrency;
    this.stopped = false;
    this.pump();
  }

  wake(): void {
    this.blocked = false;
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && !this.blocked && this.handler && this.running < this.concurrency && this.pending.length > 0) {
      const scanId = this.pending.shift()!;
      this.running++;
      const job = this.handler(scanId)
        .catch(() => "done" as const) // the handler records its own failures on the scan
        .then((outcome) => {
          this.running--;
          if (outcome === "retry" && !this.stopped) {
            this.pending.unshift(scanId);
            this.blocked = true;
            this.scheduleRetry();
          } else {
            this.known.delete(scanId);
          }
          this.pump();
        });
      this.active.add(job);
      void job.finally(() => this.active.delete(job));
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.wake();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /** Jobs waiting (not yet handed to a worker). */
  get size(): number {
    return this.pending.length;
  }

  async stopConsuming(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await Promise.allSettled([...this.active]);
  }

  async close(): Promise<void> {
    await this.stopConsuming();
    this.pending.length = 0;
    this.known.clear();
  }
}
