import type pg from "pg";
import { Prisma, type FindingType as DbFindingType, type Severity as DbSeverity } from "../../generated/prisma/client.js";
import { randomUUID } from "node:crypto";
import type { PrismaClient } from "../../platform/db/prisma.js";
import { isUuid } from "../../shared/ids.js";
import type { KeysetCursor } from "../../shared/pagination.js";
import type { InputPlace, SealedInput } from "./input-box.js";
import {
  type AdmissionResult,
  liveSession,
  queuePositionSql,
  SCAN_COLUMNS,
  scanColumns,
  scanColumnsSql,
  SCAN_SLOTS_LOCK,
  ScanQueueReads,
  type ScanInputRow,
  type ScanRecord,
  type SlotLimits,
  toScan,
  TX_OPTIONS,
} from "./scan.repo.js";
import { type Scan, ScanKind, ScanStatus } from "./scan.type.js";

/** Admission gives up rather than hold a pool client and the slot lock for long. */
const ADMIT_STATEMENT_TIMEOUT_MS = 30_000;

/** Admission's last statement: the scan as `toScan` reads it, and its place in the queue. */
const ADMITTED_RETURNING = `${scanColumnsSql("s")}, ${queuePositionSql("s")} AS position`;

/** A view of the same bytes as a Buffer (pg sends Buffers as binary parameters), without a copy. */
const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const EMPTY = Buffer.alloc(0);

/**
 * Owner-scoped scan queries: what a user's requests do (admit, read, list, cancel). Every
 * function takes `ownerId` and puts it in the WHERE, so another user's scan is NOT_FOUND by
 * construction. Queue positions come from {@link ScanQueueReads}.
 */
export class ScanOwnerRepo extends ScanQueueReads {
  constructor(
    prisma: PrismaClient,
    /** The pool behind `prisma`: admission writes inputs through it as binary parameters. */
    private readonly pool: pg.Pool,
  ) {
    super(prisma);
  }

  // ---- admission ---------------------------------------------------------------------------

  /**
   * Checks the per-user limit and the queue cap and inserts the scan with its inputs, in one
   * transaction on the pg pool. The scan row (not visible to anyone until commit) and its
   * inputs are written first, as binary parameters, and only then is the slot lock taken for
   * the count and the arrival time: a 10 MB document no longer holds every other admission
   * and claim behind the lock while its bytes travel. A refused scan rolls back, so it stores
   * nothing. createdAt is the clock inside the lock, so arrival order is commit order.
   */
  async admit(args: {
    ownerId: string;
    sessionId: string;
    kind: ScanKind;
    /** What people call it (scan-name.ts); null when there is nothing to name it by. */
    name?: string | null;
    options: Prisma.InputJsonValue | null;
    connectionId: string | null;
    inputs: ScanInputRow[];
    limits: SlotLimits;
    /** Seals each input's content at rest (issue 12 point 6), off the main thread; unset stores it as given. */
    seal?: (place: InputPlace, content: Uint8Array) => Promise<SealedInput>;
  }): Promise<AdmissionResult> {
    // The id is chosen here so inputs are sealed to it before the transaction starts. One input
    // at a time: sealing runs on libuv's small thread pool, which DNS lookups and files share.
    const scanId = randomUUID();
    const inputs: Array<{ name: string; head: Buffer; body: Buffer; keyId: string | null }> = [];
    for (const [ordinal, input] of args.inputs.entries()) {
      const sealed = args.seal ? await args.seal({ ownerId: args.ownerId, scanId, ordinal }, input.content) : null;
      inputs.push(
        sealed
          ? { name: input.name, head: asBuffer(sealed.head), body: asBuffer(sealed.body), keyId: sealed.keyId }
          : { name: input.name, head: EMPTY, body: asBuffer(input.content), keyId: null },
      );
    }
    const client = await this.pool.connect();
    let open = false;
    try {
      await client.query("BEGIN");
      open = true;
      await client.query(`SET LOCAL statement_timeout = ${ADMIT_STATEMENT_TIMEOUT_MS}`);
      await client.query(
        `INSERT INTO "Scan" (id, "ownerId", "sessionId", kind, name, status, options, "connectionId", "itemsTotal")
         VALUES ($1::uuid, $2, $3::uuid, $4::"ScanKind", $5, 'QUEUED', $6::jsonb, $7::uuid, $8)`,
        [
          scanId,
          args.ownerId,
          args.sessionId,
          args.kind,
          args.name ?? null,
          args.options === null ? null : JSON.stringify(args.options),
          args.connectionId,
          args.kind === ScanKind.DATABASE ? null : args.inputs.length,
        ],
      );
      if (inputs.length > 0) {
        // Buffers go to PostgreSQL as binary parameters (no hex or base64 text on the way).
        const values: unknown[] = [scanId, args.ownerId];
        // A sealed input's head (version, nonce) and body (ciphertext, tag) are joined here, by
        // PostgreSQL, into the stored format: no second copy of the document on the main thread.
        const rows = inputs.map((input, ordinal) => {
          values.push(ordinal, input.name, input.head, input.body, input.keyId);
          const n = values.length;
          return `(gen_random_uuid(), $1::uuid, $2, $${n - 4}::int, $${n - 3}, $${n - 2}::bytea || $${n - 1}::bytea, $${n})`;
        });
        await client.query(`INSERT INTO "ScanInput" (id, "scanId", "ownerId", ordinal, name, content, "keyId") VALUES ${rows.join(", ")}`, values);
      }
      await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [SCAN_SLOTS_LOCK]);
      // Our own row is visible to this transaction only: it is left out of the counts.
      const { rows: countRows } = await client.query<{ mine: number; queued: number; running: number }>(
        `SELECT count(*) FILTER (WHERE "ownerId" = $1)::int AS mine,
                count(*) FILTER (WHERE status = 'QUEUED')::int AS queued,
                count(*) FILTER (WHERE status = 'RUNNING')::int AS running
         FROM "Scan" WHERE status IN ('QUEUED', 'RUNNING') AND id <> $2::uuid`,
        [args.ownerId, scanId],
      );
      const { mine, queued, running } = countRows[0]!;
      let refusal: AdmissionResult | null = null;
      if (mine >= args.limits.perUser) refusal = { ok: false, reason: "USER_LIMIT", active: mine };
      // A scan that can start at once never counts against the queue cap.
      else if (running + queued >= args.limits.maxConcurrent && queued >= args.limits.maxQueued) refusal = { ok: false, reason: "QUEUE_FULL", queued };
      if (refusal) {
        open = false;
        await client.query("ROLLBACK");
        return refusal;
      }
      // Its queue position comes back with the row (no read after the commit).
      const { rows } = await client.query<ScanRecord & { position: number }>(
        `UPDATE "Scan" s SET "createdAt" = clock_timestamp() WHERE s.id = $1::uuid AND s."ownerId" = $2 RETURNING ${ADMITTED_RETURNING}`,
        [scanId, args.ownerId],
      );
      await client.query("COMMIT");
      open = false;
      const { position, ...record } = rows[0]!;
      return { ok: true, scan: toScan(record), position };
    } catch (err) {
      if (open) await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
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

  /** A page of the owner's scans, newest first, optionally within one session, by status and by kind. */
  async listOwned(args: {
    ownerId: string;
    sessionId?: string | null;
    statuses?: readonly ScanStatus[] | null;
    kinds?: readonly ScanKind[] | null;
    take: number;
    after?: KeysetCursor | null;
  }): Promise<{ rows: Scan[]; totalCount: number }> {
    const where: Prisma.ScanWhereInput = {
      ownerId: args.ownerId,
      ...liveSession(),
      ...(args.sessionId ? { sessionId: args.sessionId } : {}),
      ...(args.statuses?.length ? { status: { in: [...args.statuses] } } : {}),
      ...(args.kinds?.length ? { kind: { in: [...args.kinds] } } : {}),
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
      RETURNING ${scanColumns()}`;
    return rows.map(toScan);
  }
}
