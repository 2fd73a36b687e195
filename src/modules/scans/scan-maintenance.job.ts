import type { Logger } from "../../platform/observability/logger.js";
import type { ScanQueue } from "../../platform/queue/scan-queue.js";
import type { ScanEvents } from "./scan-events.js";
import type { ScanWorkerRepo } from "./scan-worker.repo.js";

/**
 * Keeps the queue honest on every instance:
 * - the sweeper ends scans whose worker died (no heartbeat for `stallMs`): back to QUEUED
 *   while attempts remain, else FAILED with WORKER_LOST, so nothing stays RUNNING forever;
 * - the reconciler (re-)enqueues QUEUED scans, which covers start-up after a crash, Redis
 *   outages during enqueue, and jobs lost with a Redis restart. Enqueueing is idempotent.
 */
export class ScanMaintenanceJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: { repo: ScanWorkerRepo; queue: ScanQueue; events: ScanEvents; log: Logger },
    private readonly options: { stallMs: number; maxAttempts: number; intervalMs: number; reconcileAfterMs: number },
  ) {}

  async start(): Promise<void> {
    await this.tick(0);
    this.timer = setInterval(() => void this.tick(this.options.reconcileAfterMs), this.options.intervalMs);
    this.timer.unref();
  }

  /** One pass; concurrent calls share it. */
  tick(reconcileAfterMs = this.options.reconcileAfterMs): Promise<void> {
    this.running ??= this.pass(reconcileAfterMs).finally(() => (this.running = null));
    return this.running;
  }

  private async pass(reconcileAfterMs: number): Promise<void> {
    const { repo, queue, events, log } = this.deps;
    try {
      const { requeued, failed } = await repo.sweepStalled(this.options.stallMs, this.options.maxAttempts);
      for (const scan of failed) {
        log.warn({ scanId: scan.id }, "scan failed: its worker stopped responding (WORKER_LOST)");
        await events.publish(scan);
      }
      if (requeued.length > 0) {
        log.warn({ scans: requeued.map((s) => s.id) }, "scans requeued after their worker stopped responding");
        const positions = await repo.queuePositions(requeued.map((s) => s.id));
        await events.publishMany(requeued.map((scan) => ({ scan, position: positions.get(scan.id) ?? null })));
      }
      if (failed.length > 0) queue.wake();
      for (const id of await repo.queuedIds(reconcileAfterMs)) {
        await queue.enqueue(id);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, "scan maintenance pass failed; retrying next interval");
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
