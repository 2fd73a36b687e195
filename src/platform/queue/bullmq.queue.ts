import { DelayedError, Queue, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { withTimeout } from "../../shared/async.js";
import type { Logger } from "../observability/logger.js";
import type { ScanJobHandler, ScanQueue } from "./scan-queue.js";

interface ScanJobData {
  scanId: string;
}

const QUEUE_NAME = "scans";

/**
 * Scans distributed through BullMQ over Redis: workers in API processes and in
 * `npm run worker` processes take jobs; BullMQ's global concurrency mirrors the system-wide
 * limit, and stalled-job detection re-delivers a crashed worker's job (its scan is then
 * taken over once its heartbeat is stale). Job data is the scan id only: never secrets or PII.
 */
export class BullMqScanQueue implements ScanQueue {
  readonly kind = "bullmq" as const;
  private readonly queue: Queue<ScanJobData>;
  private worker: Worker<ScanJobData> | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly options: {
      /** Connection for the queue (commands). */
      connection: Redis;
      /** A factory for the worker's blocking connection (BullMQ needs maxRetriesPerRequest: null). */
      workerConnection: () => Redis;
      prefix: string;
      maxConcurrent: number;
      log: Logger;
      /** How long a worker may go silent before its job is re-delivered. @default 30_000 */
      lockDurationMs?: number;
      /** Delay before a job that found no free slot is tried again. @default 500 */
      retryDelayMs?: number;
    },
  ) {
    this.queue = new Queue<ScanJobData>(QUEUE_NAME, {
      connection: options.connection,
      prefix: `${options.prefix}:bull`,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    });
    this.queue.on("error", (err) => options.log.warn({ err: err.message }, "scan queue error"));
  }

  /** Mirrors MAX_CONCURRENT_SCANS into BullMQ (holds across every worker process). */
  async init(): Promise<void> {
    await this.queue.setGlobalConcurrency(this.options.maxConcurrent);
  }

  async enqueue(scanId: string): Promise<void> {
    // jobId = scan id: adding a scan that already has a pending job is a no-op.
    await withTimeout(this.queue.add("scan", { scanId }, { jobId: scanId }), 3_000, "enqueue on Redis");
  }

  startConsuming(handler: ScanJobHandler, concurrency: number): void {
    if (concurrency <= 0 || this.worker) return;
    const retryDelay = this.options.retryDelayMs ?? 500;
    this.worker = new Worker<ScanJobData>(
      QUEUE_NAME,
      async (job: Job<ScanJobData>, token?: string) => {
        const outcome = await handler(job.data.scanId);
        if (outcome === "retry") {
          await job.moveToDelayed(Date.now() + retryDelay, token);
          throw new DelayedError();
        }
      },
      {
        connection: this.options.workerConnection(),
        prefix: `${this.options.prefix}:bull`,
        concurrency,
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: Math.max(1_000, Math.floor((this.options.lockDurationMs ?? 30_000) / 2)),
        maxStalledCount: 2,
      },
    );
    this.worker.on("error", (err) => this.options.log.warn({ err: err.message }, "scan worker connection error"));
  }

  wake(): void {
    // BullMQ re-offers delayed jobs itself; nothing to nudge.
  }

  async stopConsuming(): Promise<void> {
    // Waits for the active handlers; the scan-worker host aborts them first when its grace ends.
    await this.worker?.close();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.stopConsuming().catch(() => undefined);
      await this.queue.close().catch(() => undefined);
    })();
    return this.closing;
  }
}
