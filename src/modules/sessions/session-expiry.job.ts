import { Counter, type Registry } from "prom-client";
import type { PrismaClient } from "../../generated/prisma/client.js";
import type { Logger } from "../../platform/observability/logger.js";
import { noopBeforeDelete, type BeforeSessionsDelete } from "./session.service.js";

/** Row kinds the job deletes, as the `kind` label of `dg_cleanup_rows_deleted_total`. */
export const CLEANUP_KINDS = ["sessions", "scans", "findings", "scan_inputs", "connections", "payments"] as const;
export type CleanupKind = (typeof CLEANUP_KINDS)[number];

export interface CleanupTotals {
  sessions: number;
  scans: number;
  findings: number;
  scanInputs: number;
  connections: number;
  payments: number;
  /** Scans that were QUEUED or RUNNING when their session expired (cancelled through the hook). */
  scansCancelled: number;
  batches: number;
}

export interface SessionExpiryJobOptions {
  /** Recorded on every CleanupRun row. */
  instanceId: string;
  /** SESSION_TTL in ms; sets the default interval. */
  sessionTtlMs: number;
  /** Sessions deleted per transaction. @default 500 */
  batchSize?: number;
  /** Time between runs. @default min(60 s, SESSION_TTL / 2), at least 250 ms */
  intervalMs?: number;
  /** Cancels running scans before their sessions go. @default no-op */
  beforeDelete?: BeforeSessionsDelete;
  /** Where the counters are registered (the app's `metrics.registry`). @default none (not exported) */
  registry?: Registry;
  /** Longest a batch transaction may take, including the hook. @default 60000 */
  batchTimeoutMs?: number;
  /** CleanupRun rows older than this are pruned. @default 30 days */
  keepRunsMs?: number;
}

const emptyTotals = (): CleanupTotals => ({
  sessions: 0, scans: 0, findings: 0, scanInputs: 0, connections: 0, payments: 0, scansCancelled: 0, batches: 0,
});

/**
 * Deletes expired sessions with everything they hold (GDPR storage limitation; FK cascades
 * do the children). Runs on every instance; each batch is one transaction that claims its
 * sessions with `FOR UPDATE SKIP LOCKED`, so concurrent runs (other instances, or an
 * overlapping run here) take disjoint batches and nothing is deleted or counted twice.
 * An interrupted run loses at most its open batch, which rolls back whole and is taken
 * again by the next run. The children are counted in the same transaction, before the
 * delete, and added to this run's CleanupRun row in that transaction too, so the recorded
 * totals are exactly what was committed.
 */
export class SessionExpiryJob {
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly beforeDelete: BeforeSessionsDelete;
  private readonly sessionsExpired: Counter | null;
  private readonly rowsDeleted: Counter<"kind"> | null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<CleanupTotals> | null = null;
  private stopped = false;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly log: Logger,
    private readonly options: SessionExpiryJobOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.intervalMs = options.intervalMs ?? Math.max(250, Math.min(60_000, Math.floor(options.sessionTtlMs / 2)));
    this.beforeDelete = options.beforeDelete ?? noopBeforeDelete;
    this.sessionsExpired = options.registry
      ? new Counter({ name: "dg_sessions_expired_total", help: "Sessions deleted by the expiry job", registers: [options.registry] })
      : null;
    this.rowsDeleted = options.registry
      ? new Counter({
          name: "dg_cleanup_rows_deleted_total",
          help: "Rows deleted by the session-expiry job, by kind",
          labelNames: ["kind"],
          registers: [options.registry],
        })
      : null;
    // Initialise every label so /metrics shows zeros before the first deletion.
    for (const kind of CLEANUP_KINDS) this.rowsDeleted?.inc({ kind }, 0);
  }

  start(): void {
    if (this.timer || this.stopped) return;
    // First run soon after start, then every interval; a timeout chain never overlaps itself.
    const schedule = (delay: number) => {
      this.timer = setTimeout(() => {
        void this.runOnce()
          .catch((err: unknown) => this.log.warn({ err }, "session cleanup failed; retrying next interval"))
          .finally(() => {
            if (!this.stopped) schedule(this.intervalMs);
          });
      }, delay);
      this.timer.unref();
    };
    schedule(Math.min(this.intervalMs, 1_000 + Math.floor(Math.random() * 1_000)));
  }

  /** Stops scheduling and waits for the batch in flight; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.running?.catch(() => undefined);
    })();
    return this.stopping;
  }

  /** One run: batches until no expired session is left (or the job stops). Concurrent calls share the run. */
  runOnce(): Promise<CleanupTotals> {
    this.running ??= this.run().finally(() => (this.running = null));
    return this.running;
  }

  private async run(): Promise<CleanupTotals> {
    const totals = emptyTotals();
    const started = new Date();
    const t0 = performance.now();
    let runId: bigint | null = null;
    for (;;) {
      const result = await this.batch(runId, started);
      if (!result) break;
      runId = result.runId;
      const b = result.counts;
      totals.batches++;
      totals.sessions += b.sessions;
      totals.scans += b.scans;
      totals.findings += b.findings;
      totals.scanInputs += b.scanInputs;
      totals.connections += b.connections;
      totals.payments += b.payments;
      totals.scansCancelled += b.scansCancelled;
      this.sessionsExpired?.inc(b.sessions);
      this.rowsDeleted?.inc({ kind: "sessions" }, b.sessions);
      this.rowsDeleted?.inc({ kind: "scans" }, b.scans);
      this.rowsDeleted?.inc({ kind: "findings" }, b.findings);
      this.rowsDeleted?.inc({ kind: "scan_inputs" }, b.scanInputs);
      this.rowsDeleted?.inc({ kind: "connections" }, b.connections);
      this.rowsDeleted?.inc({ kind: "payments" }, b.payments);
      if (b.sessions < this.batchSize || this.stopped) break;
    }
    if (runId !== null) {
      await this.prisma.cleanupRun.update({ where: { id: runId }, data: { finishedAt: new Date() } });
      const ms = Math.round(performance.now() - t0);
      this.log.info({ ...totals, ms }, "expired sessions deleted");
    }
    await this.pruneRuns();
    return totals;
  }

  /** One transaction: claim, cancel, count, delete, record. Null when nothing was left to claim. */
  private async batch(runId: bigint | null, started: Date): Promise<{ runId: bigint; counts: Omit<CleanupTotals, "batches"> } | null> {
    return this.prisma.$transaction(
      async (tx) => {
        const claimed = await tx.$queryRaw<Array<{ id: string }>>`
          SELECT id FROM "Session" WHERE "expiresAt" <= now()
          ORDER BY "expiresAt" LIMIT ${this.batchSize}
          FOR UPDATE SKIP LOCKED`;
        if (claimed.length === 0) return null;
        const ids = claimed.map((r) => r.id);
        // The hook runs while we hold the rows: only this run cancels (the hook must not lock these Session rows).
        await this.beforeDelete(null, ids);
        const [c] = await tx.$queryRaw<
          Array<{ scans: bigint; findings: bigint; inputs: bigint; connections: bigint; payments: bigint; cancelled: bigint }>
        >`
          WITH s AS (SELECT id, status FROM "Scan" WHERE "sessionId" = ANY(${ids}::uuid[]))
          SELECT
            (SELECT count(*) FROM s) AS scans,
            (SELECT count(*) FROM s WHERE status IN ('QUEUED', 'RUNNING')) AS cancelled,
            (SELECT count(*) FROM "Finding" WHERE "scanId" IN (SELECT id FROM s)) AS findings,
            (SELECT count(*) FROM "ScanInput" WHERE "scanId" IN (SELECT id FROM s)) AS inputs,
            (SELECT count(*) FROM "DatabaseConnection" WHERE "sessionId" = ANY(${ids}::uuid[])) AS connections,
            (SELECT count(*) FROM "PaymentRecord" WHERE "sessionId" = ANY(${ids}::uuid[])) AS payments`;
        const deleted = await tx.$executeRaw`DELETE FROM "Session" WHERE id = ANY(${ids}::uuid[])`;
        const counts = {
          sessions: deleted,
          scans: Number(c?.scans ?? 0n),
          findings: Number(c?.findings ?? 0n),
          scanInputs: Number(c?.inputs ?? 0n),
          connections: Number(c?.connections ?? 0n),
          payments: Number(c?.payments ?? 0n),
          scansCancelled: Number(c?.cancelled ?? 0n),
        };
        const data = {
          sessionsDeleted: counts.sessions,
          scansDeleted: counts.scans,
          findingsDeleted: counts.findings,
          inputsDeleted: counts.scanInputs,
          connectionsDeleted: counts.connections,
          paymentsDeleted: counts.payments,
          scansCancelled: counts.scansCancelled,
        };
        let id = runId;
        if (id === null) {
          id = (await tx.cleanupRun.create({ data: { instanceId: this.options.instanceId, startedAt: started, ...data }, select: { id: true } })).id;
        } else {
          const inc = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, { increment: v }]));
          await tx.cleanupRun.update({ where: { id }, data: inc });
        }
        return { runId: id, counts };
      },
      { timeout: this.options.batchTimeoutMs ?? 60_000, maxWait: 10_000 },
    );
  }

  private async pruneRuns(): Promise<void> {
    const before = new Date(Date.now() - (this.options.keepRunsMs ?? 30 * 86_400_000));
    await this.prisma.cleanupRun.deleteMany({ where: { startedAt: { lt: before } } });
  }
}
