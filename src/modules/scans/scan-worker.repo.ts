import type pg from "pg";
import { Prisma } from "../../generated/prisma/client.js";
import { to as copyTo } from "pg-copy-streams";
import type { PrismaClient } from "../../platform/db/prisma.js";
import { isUuid } from "../../shared/ids.js";
import { byteaCopyReader } from "./bytea-copy.js";
import {
  type FindingBatch,
  type ProgressPatch,
  lockSlots,
  SCAN_COLUMNS,
  scanColumns,
  ScanQueueReads,
  type ScanRecord,
  toScan,
  TX_OPTIONS,
} from "./scan.repo.js";
import { type Scan, ScanStatus, type Severity, type SkippedInput } from "./scan.type.js";

/** A stored input is read in binary COPY rows of this size (loadInput). */
const INPUT_SLICE_BYTES = 1024 * 1024;

const WRITE_FINDINGS_SQL = `
WITH s AS (
  SELECT id, "ownerId" FROM "Scan" WHERE id = $1::uuid AND "workerId" = $2 AND status = 'RUNNING' FOR SHARE
), ins AS (
  INSERT INTO "Finding" (id, "scanId", "ownerId", ordinal, type, severity, confidence, "maskedValue", occurrences,
                         "valueHash", source, line, "table", "column", "matchRatio")
  SELECT gen_random_uuid(), s.id, s."ownerId", u.ordinal, u.type::"FindingType", u.severity::"Severity", u.confidence, u.masked,
         u.occ, u.hash, u.source, u.line, u.tbl, u.col, u.ratio
  FROM s, unnest($3::int[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::int[], $9::text[], $10::text[], $11::int[],
                 $12::text[], $13::text[], $14::float8[]) AS u(ordinal, type, severity, confidence, masked, occ, hash, source, line, tbl, col, ratio)
  ON CONFLICT ("scanId", source, line, "valueHash") WHERE line IS NOT NULL AND "valueHash" IS NOT NULL
  DO UPDATE SET occurrences = "Finding".occurrences + EXCLUDED.occurrences,
                confidence = GREATEST("Finding".confidence, EXCLUDED.confidence)
  RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM s)::int AS held, (SELECT count(*) FROM ins WHERE inserted)::int AS inserted`;

/**
 * Worker-scoped scan queries: claim, inputs, progress, heartbeat, finish, requeue, and the
 * maintenance sweep. They act on scans a worker holds and are guarded by `workerId` and
 * status instead of an owner (a scan cancelled or taken over meanwhile is never written).
 */
export class ScanWorkerRepo extends ScanQueueReads {
  constructor(
    prisma: PrismaClient,
    /** The pool behind `prisma`: findings go through it in bulk. */
    private readonly pool?: pg.Pool,
  ) {
    super(prisma);
  }

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
      // Guarded by the status (and heartbeat) just read: the slot lock does not serialise
      // cancelOwned, so a cancel committed since the read must win, not be overwritten to RUNNING.
      const taken = await tx.scan.updateMany({
        where: { id: args.scanId, status: current.status, heartbeatAt: current.heartbeatAt },
        data: {
          status: "RUNNING",
          workerId: args.workerId,
          heartbeatAt: new Date(),
          startedAt: current.status === "QUEUED" ? new Date() : undefined,
          attempts: { increment: 1 },
          stage: "starting",
          seq: { increment: 1 },
        },
      });
      if (taken.count === 0) return { claimed: false as const, reason: "NOT_CLAIMABLE" as const };
      const row = await tx.scan.findUniqueOrThrow({
        where: { id: args.scanId },
        select: { ...SCAN_COLUMNS, options: true, connectionId: true },
      });
      const { options, connectionId, ...scan } = row;
      return { claimed: true as const, scan: toScan(scan), options, connectionId };
    }, TX_OPTIONS);
  }

  /** Names and ordinals of a scan's inputs, without their content (read one at a time). */
  async inputNames(scanId: string): Promise<Array<{ ordinal: number; name: string; bytes: number }>> {
    const rows = await this.prisma.$queryRaw<Array<{ ordinal: number; name: string; bytes: number }>>`
      SELECT ordinal, name, octet_length(content)::int AS bytes FROM "ScanInput" WHERE "scanId" = ${scanId}::uuid ORDER BY ordinal`;
    return rows;
  }

  /**
   * The stored content of one input of a scan (sealed under `keyId`, or plain when it is null),
   * or null when it is gone (the scan ended meanwhile).
   */
  async loadInput(scanId: string, ordinal: number): Promise<{ ownerId: string; content: Uint8Array; keyId: string | null } | null> {
    if (!this.pool) {
      return this.prisma.scanInput.findUnique({ where: { scanId_ordinal: { scanId, ordinal } }, select: { ownerId: true, content: true, keyId: true } });
    }
    if (!isUuid(scanId) || !Number.isSafeInteger(ordinal)) return null;
    const { rows } = await this.pool.query<{ ownerId: string; keyId: string | null; bytes: number }>(
      `SELECT "ownerId", "keyId", octet_length(content)::int AS bytes FROM "ScanInput" WHERE "scanId" = $1::uuid AND ordinal = $2`,
      [scanId, ordinal],
    );
    const head = rows[0];
    if (!head) return null;
    // The bytes come as binary COPY rows of INPUT_SLICE_BYTES each (bytea-copy.ts), copied once
    // into one buffer: no hex text to decode on the main thread (a SELECT of a 10 MB bytea is
    // 20 MB of hex made into strings), and pg never buffers more than one slice. One statement,
    // one snapshot: the input is read whole or, when it was deleted meanwhile, not at all.
    // COPY takes no parameters: the id is a checked UUID and the owner a quoted literal.
    const content = Buffer.allocUnsafe(head.bytes);
    const client = await this.pool.connect();
    let failed: Error | undefined;
    try {
      const sql =
        `COPY (SELECT substring(i.content FROM g FOR ${INPUT_SLICE_BYTES}) FROM "ScanInput" i, ` +
        `generate_series(1, octet_length(i.content), ${INPUT_SLICE_BYTES}) g ` +
        `WHERE i."scanId" = '${scanId}'::uuid AND i.ordinal = ${ordinal} AND i."ownerId" = ${client.escapeLiteral(head.ownerId)} ORDER BY g) ` +
        `TO STDOUT (FORMAT binary)`;
      const reader = byteaCopyReader(content);
      for await (const chunk of client.query(copyTo(sql)) as AsyncIterable<Buffer>) reader.push(chunk);
      if (reader.end() !== head.bytes) return null; // deleted between the two statements
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      // A connection left inside a COPY is not handed back to the pool.
      client.release(failed);
    }
    return { ownerId: head.ownerId, content, keyId: head.keyId };
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
   * Ends a scan this worker holds with one small write: status, counts, skipped inputs; its
   * inputs deleted. The findings are already stored ({@link writeFindings}). Nothing is written
   * when the scan is no longer this worker's RUNNING scan (cancelled meanwhile, or taken over).
   */
  async finish(args: {
    scanId: string;
    workerId: string;
    status: ScanStatus.SUCCEEDED | ScanStatus.FAILED;
    riskLevel: Severity | null;
    findingsCount?: number;
    findingsNotStored?: number;
    skipped?: SkippedInput[];
    error?: { code: string; message: string } | null;
    itemsProcessed?: number;
    itemsTotal?: number | null;
  }): Promise<Scan | null> {
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.scan.updateManyAndReturn({
        where: { id: args.scanId, workerId: args.workerId, status: "RUNNING" },
        data: {
          status: args.status,
          progress: args.status === ScanStatus.SUCCEEDED ? 1 : undefined,
          stage: args.status === ScanStatus.SUCCEEDED ? "done" : "failed",
          findingsCount: args.findingsCount ?? 0,
          findingsNotStored: args.findingsNotStored ?? 0,
          skipped: args.skipped?.length ? (args.skipped as unknown as Prisma.InputJsonValue) : Prisma.DbNull,
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
      if (!rows[0]) return null;
      await tx.scanInput.deleteMany({ where: { scanId: args.scanId } });
      return toScan(rows[0]);
    }, TX_OPTIONS);
  }

  /**
   * Drops findings a previous run of this scan stored (a run requeued at shutdown, or taken over
   * from a worker that died), so the new run starts clean: its ordinals start at 0 and repeats
   * must not add to the old run's occurrences. Only while this worker holds the scan.
   */
  async clearFindings(scanId: string, workerId: string): Promise<number> {
    if (!this.pool) throw new Error("ScanWorkerRepo needs the pg pool to write findings");
    const res = await this.pool.query(
      `DELETE FROM "Finding" f WHERE f."scanId" = $1::uuid
         AND EXISTS (SELECT 1 FROM "Scan" s WHERE s.id = $1::uuid AND s."workerId" = $2 AND s.status = 'RUNNING')`,
      [scanId, workerId],
    );
    return res.rowCount ?? 0;
  }

  /**
   * Stores one bounded batch of findings of a scan this worker holds, on the pg pool (one
   * `INSERT ... SELECT FROM unnest(...)`, no Prisma per-row work, no long transaction). A value
   * already stored at the same place (document, line) adds its occurrences instead. The scan row
   * is locked FOR SHARE in the same statement: a cancel either commits first (nothing is written)
   * or waits for this batch, so no finding lands after a cancel.
   * @returns whether the scan was still held, and how many new rows were stored
   */
  async writeFindings(scanId: string, workerId: string, batch: FindingBatch): Promise<{ held: boolean; inserted: number }> {
    if (!this.pool) throw new Error("ScanWorkerRepo needs the pg pool to write findings");
    const res = await this.pool.query<{ held: number; inserted: number }>({
      name: "dg_write_findings",
      text: WRITE_FINDINGS_SQL,
      // Array literals built here (native joins, escaping only where needed) rather than by
      // pg's per-element prepareValue: this runs on the main thread for every batch.
      values: [
        scanId,
        workerId,
        numberArray(batch.ordinal),
        textArray(batch.type),
        textArray(batch.severity),
        numberArray(batch.confidence),
        textArray(batch.maskedValue),
        numberArray(batch.occurrences),
        textArray(batch.valueHash),
        textArray(batch.source),
        numberArray(batch.line),
        textArray(batch.table),
        textArray(batch.column),
        numberArray(batch.matchRatio),
      ],
    });
    const row = res.rows[0]!;
    return { held: row.held > 0, inserted: row.inserted };
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
      RETURNING ${scanColumns("s")}, (s.status = 'QUEUED') AS requeued`;
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

/** A PostgreSQL array literal of numbers (`{1,2.5,NULL}`). */
export function numberArray(values: readonly (number | null)[]): string {
  let nulls = false;
  for (const v of values) if (v === null || !Number.isFinite(v)) nulls = true;
  return `{${(nulls ? values.map((v) => (v === null || !Number.isFinite(v) ? "NULL" : v)) : values).join(",")}}`;
}

const NEEDS_ESCAPE = /["\\]/;

/** A PostgreSQL array literal of texts, every element quoted (`{"a","b \\"c\\"",NULL}`). */
export function textArray(values: readonly (string | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    parts[i] = v === null || v === undefined ? "NULL" : NEEDS_ESCAPE.test(v) ? `"${v.replace(/[\\"]/g, "\\$&")}"` : `"${v}"`;
  }
  return `{${parts.join(",")}}`;
}
