import type { Prisma } from "../../generated/prisma/client.js";
import type { HostPolicy } from "../../platform/net/host-policy.js";
import type { Logger } from "../../platform/observability/logger.js";
import { FindingSink } from "./finding-sink.js";
import type { InputBox } from "./input-box.js";
import { IN_THIS_THREAD, inputUnreadable, runPipeline, type PipelineWorkers } from "./scan-pipeline.js";
import { DatabaseScanError, scanDatabase, type DatabaseTarget } from "./scanners/database.scanner.js";
import { ScanAbortedError, ScanInputError, type ScanContext, type ScanProgressUpdate } from "./scanners/scanner.types.js";
import { threadErrorForLog, threadFailure } from "./scanners/thread-errors.js";
import { progressOf } from "./scan-progress.js";
import type { ScanEvents } from "./scan-events.js";
import type { ScanWorkerRepo } from "./scan-worker.repo.js";
import { type Scan, ScanKind, ScanStatus, type Severity, type SkippedInput } from "./scan.type.js";

/** Why a running scan's signal fired. */
export type AbortReason = "cancel" | "shutdown" | "lost";

export type RunResult = "finished" | "stopped" | "requeued";

export interface ScanRunnerDeps {
  repo: ScanWorkerRepo;
  events: ScanEvents;
  log: Logger;
  /** Keyed hash of finding values (derived from the encryption keyring, never stored raw). */
  hashKey: string;
  /** DETECTION_PHONE_REGIONS, passed to every detection call. @default the engine's */
  phoneRegions?: readonly string[];
  hostPolicy: HostPolicy;
  progressIntervalMs: number;
  statementTimeoutMs: number;
  /** DATABASE_SCAN_CONNECT_TIMEOUT: a scanned database must connect within this. @default 10000 (the session default) */
  connectTimeoutMs?: number;
  /** Decrypts a DATABASE scan's target; the password exists only here and in the scanner. */
  loadDatabaseTarget: (ownerId: string, connectionId: string) => Promise<DatabaseTarget | null>;
  /**
   * Worker threads for extraction and detection of documents and code (detection-pool.ts).
   * @default this thread (tests, DETECTION_THREADS=0)
   */
  workers?: PipelineWorkers;
  /** MAX_FINDINGS_PER_SCAN. @default 100000 */
  maxFindings?: number;
  /** SCAN_INPUT_TIMEOUT. @default 60000 */
  inputTimeoutMs?: number;
  /** 4 x MAX_DOCUMENT_BYTES. @default 40 MiB */
  maxTextBytes?: number;
  /** SCAN_THREAD_MEMORY, for the reason shown when an input exceeds it. @default 256 MiB */
  threadHeapBytes?: number;
  /** Opens inputs sealed at rest (input-box.ts). */
  inputBox?: InputBox;
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
    let findingsSoFar = () => 0;
    const write = (update: ScanProgressUpdate) => {
      writing = writing.then(async () => {
        const progress = progressOf(update);
        const row = await repo.updateProgress(scan.id, workerId, {
          progress,
          stage: update.stage.slice(0, 300),
          itemsProcessed: update.itemsProcessed,
          itemsTotal: update.itemsTotal,
          findingsCount: findingsSoFar(),
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
        // An older update still waiting for the timer must not be written after this one.
        pending = null;
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

    const sink = new FindingSink({
      write: (batch) => repo.writeFindings(scan.id, workerId, batch),
      maxFindings: this.deps.maxFindings ?? 100_000,
      signal,
      // Not ours any more (cancelled, or taken over): stop even if the broadcast was missed.
      onLost: () => {
        if (!signal.aborted) controller.abort("lost" satisfies AbortReason);
      },
    });
    findingsSoFar = () => sink.stored;
    const ctx: ScanContext = { signal, onProgress, hashKey: this.deps.hashKey, phoneRegions: this.deps.phoneRegions };
    let skipped: SkippedInput[] = [];
    let failure: { code: string; message: string } | null = null;
    try {
      // A second run (requeued, or taken over after a worker died) starts from a clean slate.
      // (One index probe when there is none.)
      const dropped = await repo.clearFindings(scan.id, workerId);
      if (dropped > 0) log.info({ scanId: scan.id, dropped }, "findings of an earlier run of this scan dropped");
      skipped = await this.scan(claimed, ctx, sink);
      await sink.flush();
    } catch (err) {
      if (err instanceof ScanAbortedError || signal.aborted) {
        failure = null;
      } else if (err instanceof DatabaseScanError || err instanceof ScanInputError) {
        failure = { code: err.code, message: err.message };
        // As connection tests do: what really happened (refused, timed out, ...) goes to the
        // server's log only; the user's message may say less on purpose (issue 12.2).
        if (err instanceof DatabaseScanError) log.info({ scanId: scan.id, code: err.code, detail: err.detail }, "database scan failed");
      } else {
        log.error({ scanId: scan.id, err }, "scan failed with an unexpected error");
        failure = { code: "SCAN_FAILED", message: "The scan stopped on an unexpected error (it was logged); findings stored before it are kept" };
      }
      // Findings already handed over are stored (or abandoned when the scan is no longer ours).
      await sink.flush().catch(() => undefined);
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

    const done = await finishWithRetry(() =>
      repo.finish({
        scanId: scan.id,
        workerId,
        status: failure ? ScanStatus.FAILED : ScanStatus.SUCCEEDED,
        riskLevel: sink.riskLevel as Severity | null,
        findingsCount: sink.stored,
        findingsNotStored: sink.notStored,
        skipped,
        error: failure,
        itemsProcessed: failure ? latest.itemsProcessed : (latest.itemsTotal ?? latest.itemsProcessed),
        itemsTotal: latest.itemsTotal,
      }),
    );
    if (done) {
      await events.publish(done);
      log.info(
        {
          scanId: scan.id,
          kind: scan.kind,
          status: done.status,
          findings: done.findingsCount,
          notStored: sink.notStored,
          skipped: skipped.length,
          ms: Date.now() - started,
          code: failure?.code,
        },
        "scan finished",
      );
    }
    return "finished";
  }

  /** Runs the scanner; findings go to `sink` as they are found. Returns the inputs skipped. */
  private async scan(
    claimed: { scan: Scan; options: Prisma.JsonValue; connectionId: string | null },
    ctx: ScanContext,
    sink: FindingSink,
  ): Promise<SkippedInput[]> {
    const { scan } = claimed;
    const { repo, log } = this.deps;
    switch (scan.kind) {
      case ScanKind.DOCUMENT:
      case ScanKind.CODE: {
        const { skipped } = await runPipeline({
          mode: scan.kind === ScanKind.CODE ? "code" : "document",
          inputs: await repo.inputNames(scan.id),
          // Sealed bytes and the key of their row go to the extraction thread, which opens them
          // there: no cipher work and no document in clear on this thread.
          load: async (ordinal) => {
            const row = await repo.loadInput(scan.id, ordinal);
            if (!row) return null;
            if (row.keyId === null) return { content: row.content }; // stored in clear by an older release
            if (!this.deps.inputBox) throw inputUnreadable("no input box configured");
            try {
              return { content: row.content, sealed: this.deps.inputBox.keyFor({ ownerId: row.ownerId, scanId: scan.id, ordinal }, row.keyId) };
            } catch (err) {
              throw inputUnreadable((err as Error).message);
            }
          },
          workers: this.deps.workers ?? IN_THIS_THREAD,
          sink,
          signal: ctx.signal,
          hashKey: ctx.hashKey,
          phoneRegions: ctx.phoneRegions,
          onProgress: ctx.onProgress,
          inputTimeoutMs: this.deps.inputTimeoutMs ?? 60_000,
          maxTextBytes: this.deps.maxTextBytes ?? 40 * 1024 * 1024,
          threadHeapBytes: this.deps.threadHeapBytes ?? 256 * 1024 * 1024,
          log,
        });
        return skipped;
      }
      case ScanKind.DATABASE: {
        if (!claimed.connectionId) {
          throw new ScanInputError("CONNECTION_DELETED", "The database connection of this scan was deleted");
        }
        const target = await this.deps.loadDatabaseTarget(scan.ownerId, claimed.connectionId);
        if (!target) throw new ScanInputError("CONNECTION_DELETED", "The database connection of this scan was deleted");
        const options = (claimed.options ?? {}) as DatabaseScanOptionsJson;
        const skipped: SkippedInput[] = [];
        const workers = this.deps.workers;
        const timeoutMs = this.deps.inputTimeoutMs ?? 60_000;
        const findings = await scanDatabase(
          target,
          {
            sampleSize: options.sampleSize ?? 100,
            tables: options.tables ?? null,
            hostPolicy: this.deps.hostPolicy,
            statementTimeoutMs: this.deps.statementTimeoutMs,
            ...(this.deps.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.deps.connectTimeoutMs } : {}),
            onTableSkipped: (t) => {
              if (skipped.length < 200) skipped.push({ name: t.source, code: t.code, reason: t.message });
            },
            // Cells are detected in worker threads, a batch of rows per task, under the time budget.
            ...(workers?.detectCells
              ? {
                  detectCells: async (texts: string[], hints: string[], signal: AbortSignal) => {
                    try {
                      return await workers.detectCells!({ texts, hints, hashKey: ctx.hashKey, phoneRegions: ctx.phoneRegions }, AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
                    } catch (err) {
                      if (signal.aborted) throw new ScanAbortedError();
                      throw cellsBatchError(err, timeoutMs);
                    }
                  },
                }
              : {}),
          },
          ctx,
        );
        // One row per column and type: a small array.
        await sink.add(findings.map((f) => ({ ...f, valueHash: f.valueHash ?? null, line: f.line ?? null })));
        return skipped;
      }
    }
  }
}

/**
 * A batch of a database's cells failed in its detection thread (threadFailure): over the time
 * budget skips that table (TIMEOUT); out of the thread's memory, or any other error, fails the
 * scan (SCAN_FAILED), the error itself in `detail` for the server's log only.
 */
export function cellsBatchError(err: unknown, timeoutMs: number): DatabaseScanError {
  switch (threadFailure(err)) {
    case "memory":
      return new DatabaseScanError("SCAN_FAILED", "Detection on a batch of this database's cells needed more memory than a scan thread may use (SCAN_THREAD_MEMORY)");
    case "time":
      return new DatabaseScanError("TIMEOUT", `detection on a batch of sampled cells took longer than ${Math.round(timeoutMs / 1000)} s; the table was skipped`);
    case "other": {
      const e = threadErrorForLog(err);
      return new DatabaseScanError(
        "SCAN_FAILED",
        "Detection on a batch of this database's cells stopped on an unexpected error (it was logged)",
        `detection thread: ${[e.name, e.code, e.message].filter(Boolean).join(": ")}`,
      );
    }
  }
}

/** The final write is small; a brief database hiccup should not leave the scan RUNNING. */
async function finishWithRetry<T>(write: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await write();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}
