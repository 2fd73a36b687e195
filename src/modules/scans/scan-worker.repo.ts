import type { Prisma } from "../../generated/prisma/client.js";
import {
  type FindingRow,
  type ProgressPatch,
  lockSlots,
  SCAN_COLUMNS,
  ScanQueueReads,
  type ScanRecord,
  toScan,
  TX_OPTIONS,
} from "./scan.repo.js";
import { type Scan, ScanStatus, type Severity } from "./scan.type.js";

/**
 * Worker-scoped scan queries: claim, inputs, progress, heartbeat, finish, requeue, and the
 * maintenance sweep. They act on scans a worker holds and are guarded by `workerId` and
 * status instead of an owner (a scan cancelled or taken over meanwhile is never written).
 */
export class ScanWorkerRepo extends ScanQueueReads {
  /**
   * Moves a QUEUED scan to RUNNING for `workerId` if a system-wide slot is free. Also takes over
   * a RUNNING scan whose worker stopped heartbeating (a crashed worker's job re-delivered).
   */
  async claim(args: { scanId: string; workerId: string; maxConcurrent: number; stallMs: number; maxAttempts: number }): Promise<
    { claimed: true; scan: Scan; options: Prisma.JsonValue; connectionId: string | null } | { claimed: false; reason: "NO_SLOT" | "NOT_CLAIMABLE" }
  > {
    return this.prisma.$transaction(async (tx) => {
      await lockSlots(tx);
      const current = await tx.scan.findUnique({
        where: { id: args.scanId },
        select: { status: true, heartbeatAt: true, attempts: true },
      });
      if (!current) return { claimed: false as const, reason: "NOT_CLAIMABLE" as const };
      const stalled =
        current.status === "RUNNING" && (!current.heartbeatAt || Date.now() - current.heartbeatAt.getTime() > args.stallMs);
      if (current.status !== "QUEUED" && !stalled) return { claimed: false as const, reason: "NOT_CLAIMABLE" as const };
      if (current.attempts >= args.maxAttempts) return { claimed: false as const, reason: "NOT_CLAIMABLE" as const };
      if (current.status === "QUEUED") {
        const running = await tx.scan.count({ where: { status: "RUNNING" } });
        if (running >= args.maxConcurrent) return { claimed: false as const, reason: "NO_SLOT" as const };
      }
      const row = await tx.scan.update({
        where: { id: args.scanId },
        data: {
          status: "RUNNING",
          workerId: args.workerId,
          heartbeatAt: new Date(),
          startedAt: current.status === "QUEUED" ? new Date() : undefined,
          attempts: { increment: 1 },
          stage: "starting",
          seq: { increment: 1 },
        },
        select: { ...SCAN_COLUMNS, options: true, connectionId: true },
      });
      const { options, connectionId, ...scan } = row;
      return { claimed: true as const, scan: toScan(scan), options, connectionId };
    }, TX_OPTIONS);
  }

  /** The inputs of a scan this worker holds. */
  async loadInputs(scanId: string): Promise<Array<{ name: string; content: Uint8Array }>> {
    const rows = await this.prisma.scanInput.findMany({
      where: { scanId },
      orderBy: { ordinal: "asc" },
      select: { name: true, content: true },
    });
    return rows.map((r) => ({ name: r.name, content: r.content }));
  }

  /** Writes progress if the scan is still this worker's and RUNNING; returns the new row or null. */
  async updateProgress(scanId: string, workerId: string, patch: ProgressPatch): Promise<Scan | null> {
    const res = await this.prisma.scan.updateManyAndReturn({
      where: { id: scanId, workerId, status: "RUNNING" },
      data: { ...patch, heartbeatAt: new Date(), seq: { increment: 1 } },
      select: SCAN_COLUMNS,
    });
    return res[0] ? toScan(res[0]) : null;
  }

  async heartbeat(workerId: string, scanIds: readonly string[]): Promise<void> {
    if (scanIds.length === 0) return;
    await this.prisma.scan.updateMany({
      where: { id: { in: [...scanIds] }, workerId, status: "RUNNING" },
      data: { heartbeatAt: new Date() },
    });
  }

  /**
   * Ends a scan this worker holds: findings, counts and status in one transaction, inputs
   * deleted. Nothing is written when the scan is no longer this worker's RUNNING scan
   * (cancelled meanwhile, or taken over after a stall).
   */
  async finish(args: {
    scanId: string;
    workerId: string;
    status: ScanStatus.SUCCEEDED | ScanStatus.FAILED;
    findings: FindingRow[];
    riskLevel: Severity | null;
    error?: { code: string; message: string } | null;
    itemsProcessed?: number;
    itemsTotal?: number | null;
  }): Promise<Scan | null> {
    return this.prisma.$transaction(async (tx) => {
      const owned = await tx.scan.findFirst({
        where: { id: args.scanId, workerId: args.workerId, status: "RUNNING" },
        select: { ownerId: true },
      });
      if (!owned) return null;
      for (let i = 0; i < args.findings.length; i += 1000) {
        await tx.finding.createMany({
          data: args.findings.slice(i, i + 1000).map((f, j) => ({
            scanId: args.scanId,
            ownerId: owned.ownerId,
            ordinal: i + j,
            type: f.type as never,
            severity: f.severity as never,
            confidence: f.confidence,
            maskedValue: f.maskedValue,
            occurrences: f.occurrences,
            valueHash: f.valueHash ?? null,
            source: f.source,
            line: f.line ?? null,
            table: f.table ?? null,
            column: f.column ?? null,
            matchRatio: f.matchRatio ?? null,
          })),
        });
      }
      const row = await tx.scan.update({
        where: { id: args.scanId },
        data: {
          status: args.status,
          progress: args.status === ScanStatus.SUCCEEDED ? 1 : undefined,
          stage: args.status === ScanStatus.SUCCEEDED ? "done" : "failed",
          findingsCount: args.findings.length,
          riskLevel: args.riskLevel,
          errorCode: args.error?.code ?? null,
          errorMessage: args.error?.message ?? null,
          finishedAt: new Date(),
          workerId: null,
          seq: { increment: 1 },
          ...(args.itemsProcessed !== undefined ? { itemsProcessed: args.itemsProcessed } : {}),
          ...(args.itemsTotal !== undefined ? { itemsTotal: args.itemsTotal } : {}),
        },
        select: SCAN_COLUMNS,
      });
      await tx.scanInput.deleteMany({ where: { scanId: args.scanId } });
      return toScan(row);
    }, TX_OPTIONS);
  }

  /** Puts a scan this worker holds back in the queue (graceful shutdown). */
  async requeue(scanId: string, workerId: string): Promise<Scan | null> {
    const rows = await this.prisma.scan.updateManyAndReturn({
      where: { id: scanId, workerId, status: "RUNNING" },
      data: { status: "QUEUED", workerId: null, stage: "requeued", seq: { increment: 1 }, attempts: { decrement: 1 } },
      select: SCAN_COLUMNS,
    });
    return rows[0] ? toScan(rows[0]) : null;
  }

  /**
   * Scans whose worker stopped heartbeating: back to QUEUED while attempts remain, else FAILED
   * with WORKER_LOST. Runs on every instance; the row lock makes each transition happen once.
   */
  async sweepStalled(stallMs: number, maxAttempts: number): Promise<{ requeued: Scan[]; failed: Scan[] }> {
    const cutoff = new Date(Date.now() - stallMs);
    const rows = await this.prisma.$queryRaw<Array<ScanRecord & { requeued: boolean }>>`
      WITH stalled AS (
        SELECT id FROM "Scan" WHERE status = 'RUNNING' AND ("heartbeatAt" IS NULL OR "heartbeatAt" < ${cutoff})
        FOR UPDATE SKIP LOCKED
      )
      UPDATE "Scan" s SET
        status = CASE WHEN s.attempts < ${maxAttempts} THEN 'QUEUED'::"ScanStatus" ELSE 'FAILED'::"ScanStatus" END,
        stage = CASE WHEN s.attempts < ${maxAttempts} THEN 'requeued after worker loss' ELSE 'failed' END,
        "errorCode" = CASE WHEN s.attempts < ${maxAttempts} THEN NULL ELSE 'WORKER_LOST' END,
        "errorMessage" = CASE WHEN s.attempts < ${maxAttempts} THEN NULL
          ELSE 'The worker running this scan stopped responding; the scan was not completed' END,
        "finishedAt" = CASE WHEN s.attempts < ${maxAttempts} THEN NULL ELSE now() END,
        "workerId" = NULL, seq = s.seq + 1
      FROM stalled WHERE s.id = stalled.id
      RETURNING s.id::text AS id, s."ownerId", s."sessionId"::text AS "sessionId", s.kind::text AS kind, s.status::text AS status,
        s.progress, s.stage, s."itemsProcessed", s."itemsTotal", s."findingsCount", s."riskLevel"::text AS "riskLevel", s.seq,
        s."errorCode", s."errorMessage", s."createdAt", s."startedAt", s."finishedAt", (s.status = 'QUEUED') AS requeued`;
    const failedIds = rows.filter((r) => !r.requeued).map((r) => r.id);
    if (failedIds.length > 0) await this.prisma.scanInput.deleteMany({ where: { scanId: { in: failedIds } } });
    return {
      requeued: rows.filter((r) => r.requeued).map(({ requeued: _r, ...s }) => toScan(s)),
      failed: rows.filter((r) => !r.requeued).map(({ requeued: _r, ...s }) => toScan(s)),
    };
  }

  /** QUEUED scans in arrival order (start-up recovery and the queue reconciler). */
  async queuedIds(olderThanMs = 0, limit = 10_000): Promise<string[]> {
    const cutoff = new Date(Date.now() - olderThanMs);
    const rows = await this.prisma.scan.findMany({
      where: { status: "QUEUED", createdAt: { lte: cutoff } },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: limit,
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  /** System-wide counts (capacity monitor, metrics). */
  async counts(): Promise<{ running: number; queued: number }> {
    const rows = await this.prisma.scan.groupBy({ by: ["status"], where: { status: { in: ["QUEUED", "RUNNING"] } }, _count: true });
    const get = (s: string) => rows.find((r) => r.status === s)?._count ?? 0;
    return { running: get("RUNNING"), queued: get("QUEUED") };
  }
}
