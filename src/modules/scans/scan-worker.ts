import type { Logger } from "../../platform/observability/logger.js";
import { topics, type PubSub } from "../../platform/pubsub/pubsub.js";
import type { ScanJobOutcome, ScanQueue } from "../../platform/queue/scan-queue.js";
import type { ScanEvents } from "./scan-events.js";
import type { AbortReason, ScanRunner } from "./scan-runner.js";
import type { ScanWorkerRepo } from "./scan-worker.repo.js";
import { ScanStatus } from "./scan.type.js";

export interface ScanWorkerOptions {
  workerId: string;
  /** Scans this process runs at once (SCAN_WORKERS). */
  concurrency: number;
  maxConcurrent: number;
  maxAttempts: number;
  stallMs: number;
  heartbeatMs: number;
  /**
   * While capacity holds new scans, a job waits this long before it goes back to the queue, so
   * held jobs do not cycle through the queue backend as fast as it can hand them out. @default 1_000
   */
  holdRetryMs?: number;
}

/**
 * Runs scans in this process: takes jobs from the queue port, claims each scan in PostgreSQL
 * (the system-wide limit), runs it, and stops it when a cancel broadcast names it. Shutdown
 * stops taking jobs, lets running scans finish within the grace period, then requeues the rest.
 */
export class ScanWorkerHost {
  private readonly running = new Map<string, AbortController>();
  private unlisten: (() => Promise<void>) | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly deps: {
      repo: ScanWorkerRepo;
      queue: ScanQueue;
      pubsub: PubSub;
      events: ScanEvents;
      runner: ScanRunner;
      log: Logger;
      /** Why new scans must wait (capacity CRITICAL somewhere), or null; asked before each claim. */
      capacityHold?: () => string | null;
    },
    private readonly options: ScanWorkerOptions,
  ) {}

  get activeScanIds(): string[] {
    return [...this.running.keys()];
  }

  async start(): Promise<void> {
    this.unlisten = await this.deps.pubsub.listen(topics.scanCancel(), (payload) => {
      const scanId = (payload as { scanId?: unknown })?.scanId;
      if (typeof scanId === "string") this.abort(scanId, "cancel");
    });
    this.heartbeat = setInterval(() => {
      const ids = this.activeScanIds;
      if (ids.length > 0) {
        this.deps.repo.heartbeat(this.options.workerId, ids).catch((err: unknown) => this.deps.log.warn({ err }, "scan heartbeat failed"));
      }
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
    this.deps.queue.startConsuming((scanId) => this.handle(scanId), this.options.concurrency);
    this.deps.log.info({ workerId: this.options.workerId, concurrency: this.options.concurrency, queue: this.deps.queue.kind }, "scan worker started");
  }

  /** Aborts a scan if this process runs it. */
  abort(scanId: string, reason: AbortReason): boolean {
    const controller = this.running.get(scanId);
    if (!controller || controller.signal.aborted) return false;
    controller.abort(reason);
    return true;
  }

  private async handle(scanId: string): Promise<ScanJobOutcome> {
    if (this.stopping) return "retry";
    const { repo, events, runner, log, queue } = this.deps;
    // Capacity CRITICAL: the scan stays QUEUED (Scan.waitingFor says CAPACITY) and is tried again
    // after the queue's retry delay, so the queue drains by itself once the level clears.
    if (this.deps.capacityHold?.()) {
      await new Promise((r) => setTimeout(r, this.options.holdRetryMs ?? 1_000));
      return "retry";
    }
    let claimed;
    try {
      claimed = await repo.claim({
        scanId,
        workerId: this.options.workerId,
        maxConcurrent: this.options.maxConcurrent,
        stallMs: this.options.stallMs,
        maxAttempts: this.options.maxAttempts,
      });
    } catch (err) {
      log.warn({ scanId, err }, "scan claim failed; will retry");
      return "retry";
    }
    if (!claimed.claimed) return claimed.reason === "NO_SLOT" ? "retry" : "done";

    // The scan left the queue: everyone behind it moves up.
    void repo
      .advanceQueue({ createdAt: claimed.scan.createdAt, id: claimed.scan.id })
      .then((moved) => events.publishMany(moved.map((m) => ({ scan: m.scan, position: m.position }))))
      .catch((err: unknown) => log.warn({ err }, "queue positions not republished"));

    const controller = new AbortController();
    this.running.set(scanId, controller);
    try {
      const result = await runner.run(claimed, this.options.workerId, controller);
      return result === "requeued" ? "retry" : "done";
    } catch (err) {
      // Ends FAILED at once with a message a person understands; a deterministic error is not
      // retried, and the scan is never left RUNNING for the sweeper to call WORKER_LOST.
      log.error({ scanId, err }, "scan runner crashed");
      const failed = await repo
        .finish({
          scanId,
          workerId: this.options.workerId,
          status: ScanStatus.FAILED,
          riskLevel: null,
          error: { code: "SCAN_FAILED", message: "The scan stopped on an unexpected error (it was logged); it was not retried" },
        })
        .catch((e: unknown) => log.error({ scanId, err: e }, "a crashed scan could not be marked FAILED"));
      if (failed) await events.publish(failed).catch(() => undefined);
      return "done";
    } finally {
      this.running.delete(scanId);
      queue.wake();
    }
  }

  /**
   * Stops taking scans; running ones get `graceMs` to finish, then are requeued (their next
   * worker starts them again). Idempotent.
   */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      const consuming = this.deps.queue.stopConsuming();
      const deadline = Date.now() + graceMs;
      while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const id of this.activeScanIds) this.abort(id, "shutdown");
      await consuming;
      if (this.heartbeat) clearInterval(this.heartbeat);
      await this.unlisten?.();
    })();
    return this.stopping;
  }
}
