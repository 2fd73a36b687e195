import { Prisma, type FindingType as DbFindingType, type Severity as DbSeverity } from "../../generated/prisma/client.js";
import type { PrismaClient } from "../../platform/db/prisma.js";
import type { KeysetCursor } from "../../shared/pagination.js";
import { Scan, ScanKind, ScanStatus, Severity } from "./scan.type.js";

/**
 * One advisory lock serialises admission and claiming across every instance, so the
 * per-user limit, the queue cap and the system-wide running limit are checked and changed
 * atomically (two instances cannot both take the last slot).
 */
const SCAN_SLOTS_LOCK = 0x44_47_53_4c; // "DGSL"

type Tx = Prisma.TransactionClient;

const TX_OPTIONS = { maxWait: 10_000, timeout: 30_000 } as const;

export interface ScanInputRow {
  name: string;
  content: Uint8Array;
}

export type AdmissionResult =
  | { ok: true; scan: Scan }
  | { ok: false; reason: "USER_LIMIT"; active: number }
  | { ok: false; reason: "QUEUE_FULL"; queued: number };

export interface SlotLimits {
  perUser: number;
  maxConcurrent: number;
  maxQueued: number;
}

export interface FindingRow {
  type: string;
  severity: string;
  confidence: number;
  maskedValue: string;
  occurrences: number;
  valueHash?: string | null;
  source: string;
  line?: number | null;
  table?: string | null;
  column?: string | null;
  matchRatio?: number | null;
}

export interface ProgressPatch {
  progress?: number;
  stage?: string | null;
  itemsProcessed?: number;
  itemsTotal?: number | null;
}

const SCAN_COLUMNS = {
  id: true,
  ownerId: true,
  sessionId: true,
  kind: true,
  status: true,
  progress: true,
  stage: true,
  itemsProcessed: true,
  itemsTotal: true,
  findingsCount: true,
  riskLevel: true,
  seq: true,
  errorCode: true,
  errorMessage: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
} as const;

type ScanRecord = Prisma.ScanGetPayload<{ select: typeof SCAN_COLUMNS }>;

const toScan = (r: ScanRecord): Scan => ({
  ...r,
  kind: r.kind as ScanKind,
  status: r.status as ScanStatus,
  riskLevel: (r.riskLevel as Severity | null) ?? null,
});

/**
 * Scan persistence. Every function that reads or changes one user's scans takes `ownerId`
 * and puts it in the WHERE; the worker-side functions (claim, progress, finish) act on scans
 * a worker holds and are guarded by `workerId` and status instead.
 */
export class ScanRepo {
  constructor(private readonly prisma: PrismaClient) {}

  // ---- admission ---------------------------------------------------------------------------

  /**
   * Checks the per-user limit and the queue cap and inserts the scan with its inputs, under the
   * slot lock. createdAt is the clock inside the lock, so arrival order is commit order.
   */
  async admit(args: {
    ownerId: string;
    sessionId: string;
    kind: ScanKind;
    options: Prisma.InputJsonValue | null;
    connectionId: string | null;
    inputs: ScanInputRow[];
    limits: SlotLimits;
  }): Promise<AdmissionResult> {
    return this.prisma.$transaction(async (tx) => {
      await lockSlots(tx);
      const [counts] = await tx.$queryRaw<Array<{ mine: bigint; queued: bigint; running: bigint }>>`
        SELECT count(*) FILTER (WHERE "ownerId" = ${args.ownerId}) AS mine,
               count(*) FILTER (WHERE status = 'QUEUED') AS queued,
               count(*) FILTER (WHERE status = 'RUNNING') AS running
        FROM "Scan" WHERE status IN ('QUEUED', 'RUNNING')`;
      const mine = Number(counts!.mine);
      const queued = Number(counts!.queued);
      const running = Number(counts!.running);
      if (mine >= args.limits.perUser) return { ok: false as const, reason: "USER_LIMIT" as const, active: mine };
      // A scan that can start at once never counts against the queue cap.
      if (running + queued >= args.limits.maxConcurrent && queued >= args.limits.maxQueued) {
        return { ok: false as const, reason: "QUEUE_FULL" as const, queued };
      }
      const [{ now }] = (await tx.$queryRaw<Array<{ now: Date }>>`SELECT clock_timestamp() AS now`) as [{ now: Date }];
      const scan = await tx.scan.create({
        data: {
          ownerId: args.ownerId,
          sessionId: args.sessionId,
          kind: args.kind,
          status: "QUEUED",
          options: args.options ?? Prisma.DbNull,
          connectionId: args.connectionId,
          createdAt: now,
          itemsTotal: args.kind === ScanKind.DATABASE ? null : args.inputs.length,
        },
        select: SCAN_COLUMNS,
      });
      if (args.inputs.length > 0) {
        await tx.scanInput.createMany({
          data: args.inputs.map((input, ordinal) => ({
            scanId: scan.id,
            ownerId: args.ownerId,
            ordinal,
            name: input.name,
            content: new Uint8Array(input.content.buffer as ArrayBuffer, input.content.byteOffset, input.content.byteLength),
          })),
        });
      }
      return { ok: true as const, scan: toScan(scan) };
    }, TX_OPTIONS);
  }

  // ---- reads (owner-scoped) ------------------------------------------------------------------

  async findOwned(ownerId: string, id: string): Promise<Scan | null> {
    if (!isUuid(id)) return null;
    const row = await this.prisma.scan.findFirst({ where: { id, ownerId, ...liveSession() }, select: SCAN_COLUMNS });
    return row ? toScan(row) : null;
  }

  async findManyOwned(ownerId: string, ids: readonly string[]): Promise<Scan[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    const rows = await this.prisma.scan.findMany({ where: { id: { in: valid }, ownerId, ...liveSession() }, select: SCAN_COLUMNS });
    return rows.map(toScan);
  }

  /** A page of the owner's scans, newest first, optionally within one session and by status. */
  async listOwned(args: {
    ownerId: string;
    sessionId?: string | null;
    statuses?: readonly ScanStatus[] | null;
    take: number;
    after?: KeysetCursor | null;
  }): Promise<{ rows: Scan[]; totalCount: number }> {
    const where: Prisma.ScanWhereInput = {
      ownerId: args.ownerId,
      ...liveSession(),
      ...(args.sessionId ? { sessionId: args.sessionId } : {}),
      ...(args.statuses?.length ? { status: { in: [...args.statuses] } } : {}),
    };
    const pageWhere: Prisma.ScanWhereInput = args.after
      ? {
          AND: [
            where,
            {
              OR: [
                { createdAt: { lt: args.after.createdAt } },
                { createdAt: args.after.createdAt, id: { lt: args.after.id } },
              ],
            },
          ],
        }
      : where;
    const [rows, totalCount] = await Promise.all([
      this.prisma.scan.findMany({
        where: pageWhere,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: args.take + 1,
        select: SCAN_COLUMNS,
      }),
      this.prisma.scan.count({ where }),
    ]);
    return { rows: rows.map(toScan), totalCount };
  }

  /** 1-based queue positions of the given QUEUED scans (arrival order), keyed by scan id. */
  async queuePositions(ids: readonly string[]): Promise<Map<string, number>> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return new Map();
    const rows = await this.prisma.$queryRaw<Array<{ id: string; pos: bigint }>>`
      SELECT id::text AS id, pos FROM (
        SELECT id, row_number() OVER (ORDER BY "createdAt", id) AS pos FROM "Scan" WHERE status = 'QUEUED'
      ) q WHERE id = ANY(${valid}::uuid[])`;
    return new Map(rows.map((r) => [r.id, Number(r.pos)]));
  }

  async listFindingsOwned(args: {
    ownerId: string;
    scanId: string;
    take: number;
    afterOrdinal: number | null;
    types?: readonly string[] | null;
    severities?: readonly string[] | null;
  }) {
    const where: Prisma.FindingWhereInput = {
      scanId: args.scanId,
      ownerId: args.ownerId,
      ...(args.types ? { type: { in: [...args.types] as DbFindingType[] } } : {}),
      ...(args.severities ? { severity: { in: [...args.severities] as DbSeverity[] } } : {}),
    };
    const [rows, totalCount] = await Promise.all([
      this.prisma.finding.findMany({
        where: args.afterOrdinal === null ? where : { ...where, ordinal: { gt: args.afterOrdinal } },
        orderBy: { ordinal: "asc" },
        take: args.take + 1,
      }),
      this.prisma.finding.count({ where }),
    ]);
    return { rows, totalCount };
  }

  // ---- cancellation (owner-scoped) -------------------------------------------------------------

  /**
   * Ends a QUEUED or RUNNING scan as CANCELLED and drops its inputs. Returns the scan and its
   * previous status, or null when it was not the owner's; a finished scan is returned unchanged.
   */
  async cancelOwned(ownerId: string, id: string): Promise<{ scan: Scan; previous: ScanStatus } | null> {
    if (!isUuid(id)) return null;
    return this.prisma.$transaction(async (tx) => {
      const current = await tx.scan.findFirst({ where: { id, ownerId }, select: { status: true } });
      if (!current) return null;
      const previous = current.status as ScanStatus;
      if (previous !== ScanStatus.QUEUED && previous !== ScanStatus.RUNNING) {
        const scan = await tx.scan.findFirstOrThrow({ where: { id, ownerId }, select: SCAN_COLUMNS });
        return { scan: toScan(scan), previous };
      }
      const scan = await tx.scan.update({
        where: { id, ownerId },
        data: { status: "CANCELLED", finishedAt: new Date(), stage: "cancelled", seq: { increment: 1 }, workerId: null },
        select: SCAN_COLUMNS,
      });
      await tx.scanInput.deleteMany({ where: { scanId: id, ownerId } });
      return { scan: toScan(scan), previous };
    }, TX_OPTIONS);
  }

  /** Cancels every active scan in the given sessions (session close and expiry). */
  async cancelInSessions(ownerId: string | null, sessionIds: readonly string[]): Promise<Scan[]> {
    const valid = sessionIds.filter(isUuid);
    if (valid.length === 0) return [];
    const rows = await this.prisma.$queryRaw<ScanRecord[]>`
      UPDATE "Scan" SET status = 'CANCELLED', "finishedAt" = now(), stage = 'cancelled', seq = seq + 1, "workerId" = NULL
      WHERE "sessionId" = ANY(${valid}::uuid[]) AND status IN ('QUEUED', 'RUNNING')
        AND (${ownerId}::text IS NULL OR "ownerId" = ${ownerId})
      RETURNING id::text AS id, "ownerId", "sessionId"::text AS "sessionId", kind::text AS kind, status::text AS status, progress, stage,
        "itemsProcessed", "itemsTotal", "findingsCount", "riskLevel"::text AS "riskLevel", seq, "errorCode", "errorMessage",
        "createdAt", "startedAt", "finishedAt"`;
    return rows.map(toScan);
  }

  // ---- worker side ------------------------------------------------------------------------------

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

  /**
   * After a scan leaves the queue, every QUEUED scan behind it moves up: bump their sequence
   * numbers and return them with their new positions, for republishing.
   */
  async advanceQueue(after: { createdAt: Date; id: string }): Promise<Array<{ scan: Scan; position: number }>> {
    const rows = await this.prisma.$queryRaw<Array<ScanRecord & { pos: bigint }>>`
      WITH q AS (
        SELECT id, row_number() OVER (ORDER BY "createdAt", id) AS pos FROM "Scan" WHERE status = 'QUEUED'
      ), moved AS (
        UPDATE "Scan" s SET seq = s.seq + 1 FROM q
        WHERE s.id = q.id AND (s."createdAt", s.id) > (${after.createdAt}, ${after.id}::uuid)
        RETURNING s.*, q.pos
      )
      SELECT id::text AS id, "ownerId", "sessionId"::text AS "sessionId", kind::text AS kind, status::text AS status, progress, stage,
        "itemsProcessed", "itemsTotal", "findingsCount", "riskLevel"::text AS "riskLevel", seq, "errorCode", "errorMessage",
        "createdAt", "startedAt", "finishedAt", pos FROM moved`;
    return rows.map(({ pos, ...s }) => ({ scan: toScan(s), position: Number(pos) }));
  }

  /** System-wide counts (capacity monitor, metrics). */
  async counts(): Promise<{ running: number; queued: number }> {
    const rows = await this.prisma.scan.groupBy({ by: ["status"], where: { status: { in: ["QUEUED", "RUNNING"] } }, _count: true });
    const get = (s: string) => rows.find((r) => r.status === s)?._count ?? 0;
    return { running: get("RUNNING"), queued: get("QUEUED") };
  }
}

/**
 * A session past its expiry is gone for its owner even before the cleanup job deletes it
 * (as the sessions module treats it), and so are its scans.
 */
const liveSession = () => ({ session: { expiresAt: { gt: new Date() } } });

async function lockSlots(tx: Tx): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SCAN_SLOTS_LOCK}::bigint)`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are UUIDs; anything else cannot name a row (and must not reach a ::uuid cast). */
export const isUuid = (id: string): boolean => UUID_RE.test(id);
