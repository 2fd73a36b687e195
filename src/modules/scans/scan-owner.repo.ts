import { Prisma, type FindingType as DbFindingType, type Severity as DbSeverity } from "../../generated/prisma/client.js";
import { randomUUID } from "node:crypto";
import { isUuid } from "../../shared/ids.js";
import type { KeysetCursor } from "../../shared/pagination.js";
import type { InputPlace, SealedInput } from "./input-box.js";
import {
  type AdmissionResult,
  liveSession,
  lockSlots,
  SCAN_COLUMNS,
  ScanQueueReads,
  type ScanInputRow,
  type ScanRecord,
  type SlotLimits,
  toScan,
  TX_OPTIONS,
} from "./scan.repo.js";
import { type Scan, ScanKind, ScanStatus } from "./scan.type.js";

/**
 * Owner-scoped scan queries: what a user's requests do (admit, read, list, cancel). Every
 * function takes `ownerId` and puts it in the WHERE, so another user's scan is NOT_FOUND by
 * construction. Queue positions come from {@link ScanQueueReads}.
 */
export class ScanOwnerRepo extends ScanQueueReads {
  // ---- admission ---------------------------------------------------------------------------

  /**
   * Checks the per-user limit and the queue cap and inserts the scan with its inputs, under the
   * slot lock. createdAt is the clock inside the lock, so arrival order is commit order.
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
    /** Seals each input's content at rest (issue 12 point 6); unset stores it as given. */
    seal?: (place: InputPlace, content: Uint8Array) => SealedInput;
  }): Promise<AdmissionResult> {
    // The id is chosen here so inputs are sealed to it before the slot lock is taken.
    const scanId = randomUUID();
    const inputs = args.inputs.map((input, ordinal) => {
      const content = new Uint8Array(input.content.buffer as ArrayBuffer, input.content.byteOffset, input.content.byteLength);
      const sealed = args.seal ? args.seal({ ownerId: args.ownerId, scanId, ordinal }, content) : null;
      return { name: input.name, content: sealed ? new Uint8Array(sealed.content) : content, keyId: sealed?.keyId ?? null };
    });
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
          id: scanId,
          ownerId: args.ownerId,
          sessionId: args.sessionId,
          kind: args.kind,
          name: args.name ?? null,
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
          data: inputs.map((input, ordinal) => ({ scanId: scan.id, ownerId: args.ownerId, ordinal, ...input })),
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
      RETURNING id::text AS id, "ownerId", "sessionId"::text AS "sessionId", kind::text AS kind, status::text AS status, progress, stage,
        "itemsProcessed", "itemsTotal", "findingsCount", "riskLevel"::text AS "riskLevel", seq, "errorCode", "errorMessage",
        "createdAt", "startedAt", "finishedAt"`;
    return rows.map(toScan);
  }
}
