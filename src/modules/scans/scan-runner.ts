import type { Prisma } from "../../generated/prisma/client.js";
import type { HostPolicy } from "../../platform/net/host-policy.js";
import type { Logger } from "../../platform/observability/logger.js";
import { highestSeverity } from "../detection/index.js";
import { scanCode } from "./scanners/code.scanner.js";
import { DatabaseScanError, scanDatabase, type DatabaseTarget } from "./scanners/database.scanner.js";
import { scanDocuments } from "./scanners/document.scanner.js";
import { ScanAbortedError, ScanInputError, type ScanContext, type ScanFinding, type ScanProgressUpdate } from "./scanners/scanner.types.js";
import type { ScanEvents } from "./scan-events.js";
import type { ScanWorkerRepo } from "./scan-worker.repo.js";
import { type Scan, ScanKind, ScanStatus, Severity } from "./scan.type.js";

/** Why a running scan's signal fired. */
export type AbortReason = "cancel" | "shutdown" | "lost";

export type RunResult = "finished" | "stopped" | "requeued";

export interface ScanRunnerDeps {
  repo: ScanWorkerRepo;
  events: ScanEvents;
  log: Logger;
  /** Keyed hash of finding values (derived from the encryption keyring, never stored raw). */
  hashKey: string;
  hostPolicy: HostPolicy;
  progressIntervalMs: number;
  statementTimeoutMs: number;
  /** Decrypts a DATABASE scan's target; the password exists only here and in the scanner. */
  loadDatabaseTarget: (ownerId: string, connectionId: string) => Promise<DatabaseTarget | null>;
  /** Detection routed through the worker-thread pool; default in-thread. */
  detect?: ScanContext["detect"];
}

interface DatabaseScanOptionsJson {
  sampleSize?: number;
  tables?: string[] | null;
}

/**
 * Runs one claimed scan to its end: reads its inputs, drives the scanner with an AbortSignal,
 * writes progress (throttled) and publishes each write, then stores masked findings and the
 * outcome in one transaction. Every write is guarded by the worker id and RUNNING status, so
 * a scan cancelled or taken over meanwhile is never overwritten.
 */
export class ScanRunner {
  constructor(private readonly deps: ScanRunnerDeps) {}

  async run(
    claimed: { scan: Scan; options: Prisma.JsonValue; connectionId: string | null },
    workerId: string,
    controller: AbortController,
  ): Promise<RunResult> {
    const { repo, events, log } = this.deps;
    const { scan } = claimed;
    const signal = controller.signal;
    const started = Date.now();
    await events.publish(scan);

    let lastWrite = 0;
    let pending: ScanProgressUpdate | null = null;
    let writing: Promise<void> = Promise.resolve();
    let latest: ScanProgressUpdate = { itemsProcessed: 0, itemsTotal: scan.itemsTotal, stage: "starting" };
    const write = (update: ScanProgressUpdate) => {
      writing = writing.then(async () => {
        const progress = update.itemsTotal ? Math.min(0.99, update.itemsProcessed / update.itemsTotal) : 0;
        const row = await repo.updateProgress(scan.id, workerId, {
          progress,
          stage: update.stage.slice(0, 300),
          itemsProcessed: update.itemsProcessed,
          itemsTotal: update.itemsTotal,
        });
        if (row) await events.publish(row);
        // Not ours any more (cancelled, or taken over): stop even if the broadcast was missed.
        else if (!signal.aborted) controller.abort("lost" satisfies AbortReason);
      });
      return writing;
    };
    let timer: NodeJS.Timeout | null = null;
    const onProgress = (update: ScanProgressUpdate) => {
      latest = update;
      const now = Date.now();
      if (now - lastWrite >= this.deps.progressIntervalMs) {
        lastWrite = now;
        void write(update).catch((err: unknown) => log.warn({ scanId: scan.id, err }, "progress write failed"));
      } else {
        pending = update;
        timer ??= setTimeout(() => {
          timer = null;
          if (pending && !signal.aborted) {
            lastWrite = Date.now();
            const p = pending;
            pending = null;
            void write(p).catch((err: unknown) => log.warn({ scanId: scan.id, err }, "progress write failed"));
          }
        }, this.deps.progressIntervalMs);
      }
    };

    const ctx: ScanContext = { signal, onProgress, hashKey: this.deps.hashKey, ...(this.deps.detect ? { detect: this.deps.detect } : {}) };
    let findings: ScanFinding[] | null = null;
    let failure: { code: string; message: string } | null = null;
    try {
      findings = await this.scan(claimed, ctx);
    } catch (err) {
      if (err instanceof ScanAbortedError || signal.aborted) {
        failure = null;
      } else if (err instanceof DatabaseScanError || err instanceof ScanInputError) {
        failure = { code: err.code, message: err.message };
      } else {
        log.error({ scanId: scan.id, err }, "scan failed with an unexpected error");
        failure = { code: "SCAN_FAILED", message: "The scan failed unexpectedly; the error was logged" };
      }
    } finally {
      if (timer) clearTimeout(timer);
      await writing.catch(() => undefined);
    }

    if (signal.aborted) {
      const reason = signal.reason as AbortReason;
      if (reason === "shutdown") {
        const requeued = await repo.requeue(scan.id, workerId);
        if (requeued) await events.publish(requeued);
        log.info({ scanId: scan.id }, "scan requeued for another worker (shutdown)");
        return "requeued";
      }
      log.info({ scanId: scan.id, reason, ms: Date.now() - started }, "scan stopped");
      return "stopped";
    }

    const done = await repo.finish({
      scanId: scan.id,
      workerId,
      status: failure ? ScanStatus.FAILED : ScanStatus.SUCCEEDED,
      findings: findings ?? [],
      riskLevel: findings?.length ? (highestSeverity(findings.map((f) => f.severity)) as Severity | null) : null,
      error: failure,
      itemsProcessed: failure ? latest.itemsProcessed : (latest.itemsTotal ?? latest.itemsProcessed),
      itemsTotal: latest.itemsTotal,
    });
    if (done) {
      await events.publish(done);
      log.info(
        { scanId: scan.id, kind: scan.kind, status: done.status, findings: done.findingsCount, ms: Date.now() - started, code: failure?.code },
        "scan finished",
      );
    }
    return "finished";
  }

  private async scan(claimed: { scan: Scan; options: Prisma.JsonValue; connectionId: string | null }, ctx: ScanContext): Promise<ScanFinding[]> {
    const { scan } = claimed;
    switch (scan.kind) {
      case ScanKind.DOCUMENT:
        return scanDocuments(await this.deps.repo.loadInputs(scan.id), ctx);
      case ScanKind.CODE:
        return scanCode(await this.deps.repo.loadInputs(scan.id), ctx);
      case ScanKind.DATABASE: {
        if (!claimed.connectionId) {
          throw new ScanInputError("CONNECTION_DELETED", "The database connection of this scan was deleted");
        }
        const target = await this.deps.loadDatabaseTarget(scan.ownerId, claimed.connectionId);
        if (!target) throw new ScanInputError("CONNECTION_DELETED", "The database connection of this scan was deleted");
        const options = (claimed.options ?? {}) as DatabaseScanOptionsJson;
        return scanDatabase(
          target,
          {
            sampleSize: options.sampleSize ?? 100,
            tables: options.tables ?? null,
            hostPolicy: this.deps.hostPolicy,
            statementTimeoutMs: this.deps.statementTimeoutMs,
            // Cells are small: the database scanner detects in this thread, between awaits.
          },
          ctx,
        );
      }
    }
  }
}
