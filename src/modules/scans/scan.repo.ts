import { Prisma } from "../../generated/prisma/client.js";
import type { PrismaClient } from "../../platform/db/prisma.js";
import { isUuid } from "../../shared/ids.js";
import { type Scan, ScanKind, ScanStatus, Severity, type SkippedInput } from "./scan.type.js";

/**
 * Scan persistence, split by caller (STYLE.md: owner-scoped queries apart from worker-scoped
 * ones): `scan-owner.repo.ts` (admission, the owner's reads, cancellation) and
 * `scan-worker.repo.ts` (claim, progress, heartbeat, finish, requeue, sweep). This file holds
 * what both share: row shapes, the slot lock and queue order.
 */

/**
 * One advisory lock serialises admission and claiming across every instance, so the
 * per-user limit, the queue cap and the system-wide running limit are checked and changed
 * atomically (two instances cannot both take the last slot).
 */
export const SCAN_SLOTS_LOCK = 0x44_47_53_4c; // "DGSL"

export type Tx = Prisma.TransactionClient;

export const TX_OPTIONS = { maxWait: 10_000, timeout: 30_000 } as const;

export interface ScanInputRow {
  name: string;
  content: Uint8Array;
}

export type AdmissionResult =
  | { ok: true; scan: Scan; /** 1-based place in the queue at admission. */ position: number }
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

/**
 * One batch of findings, column by column (the shape `unnest(...)` takes, and cheap to move
 * between threads). Every array has the batch's length; null where a column does not apply.
 */
export interface FindingBatch {
  ordinal: number[];
  type: string[];
  severity: string[];
  confidence: number[];
  maskedValue: string[];
  occurrences: number[];
  valueHash: (string | null)[];
  source: string[];
  line: (number | null)[];
  table: (string | null)[];
  column: (string | null)[];
  matchRatio: (number | null)[];
}

export const emptyBatch = (): FindingBatch => ({
  ordinal: [],
  type: [],
  severity: [],
  confidence: [],
  maskedValue: [],
  occurrences: [],
  valueHash: [],
  source: [],
  line: [],
  table: [],
  column: [],
  matchRatio: [],
});

export interface ProgressPatch {
  progress?: number;
  stage?: string | null;
  itemsProcessed?: number;
  itemsTotal?: number | null;
  findingsCount?: number;
}

export const SCAN_COLUMNS = {
  id: true,
  ownerId: true,
  sessionId: true,
  kind: true,
  name: true,
  status: true,
  progress: true,
  stage: true,
  itemsProcessed: true,
  itemsTotal: true,
  findingsCount: true,
  findingsNotStored: true,
  skipped: true,
  riskLevel: true,
  seq: true,
  errorCode: true,
  errorMessage: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
} as const;

export type ScanRecord = Prisma.ScanGetPayload<{ select: typeof SCAN_COLUMNS }>;

/** Raw SQL hands these back as text (uuid, enums) so they read as Prisma's select gives them. */
const AS_TEXT = new Set<keyof typeof SCAN_COLUMNS>(["id", "sessionId", "kind", "status", "riskLevel"]);

/**
 * SCAN_COLUMNS as a raw select or RETURNING list (`toScan`'s input), optionally of a table
 * alias: the one column list for statements Prisma cannot write (admission on the pg pool,
 * queue moves, the sweep, session cancels, live feeds), so they return what `select` does.
 */
export function scanColumnsSql(alias?: string): string {
  const p = alias ? `${alias}.` : "";
  return (Object.keys(SCAN_COLUMNS) as Array<keyof typeof SCAN_COLUMNS>)
    .map((c) => (AS_TEXT.has(c) ? `${p}"${c}"::text AS "${c}"` : `${p}"${c}"`))
    .join(", ");
}

/** {@link scanColumnsSql} for Prisma's tagged templates. */
export const scanColumns = (alias?: string): Prisma.Sql => Prisma.raw(scanColumnsSql(alias));

/**
 * Queue order, in one place: the QUEUED scans by arrival (`createdAt`, then id) with their
 * 1-based position `pos` (a window over at most MAX_QUEUED_SCANS rows, on the
 * (status, createdAt, id) index). For a CTE or a join.
 */
export const QUEUED_POSITIONS = Prisma.raw(`SELECT id, row_number() OVER (ORDER BY "createdAt", id) AS pos FROM "Scan" WHERE status = 'QUEUED'`);

/**
 * The same order for one row being written, by the alias of its new values (a RETURNING
 * list): the QUEUED scans before it, plus one. Counted rather than windowed because the
 * statement's snapshot still holds the row's old `createdAt` (admission sets it under the lock).
 */
export const queuePositionSql = (alias: string): string =>
  `((SELECT count(*) FROM "Scan" q WHERE q.status = 'QUEUED' AND q.id <> ${alias}.id AND (q."createdAt", q.id) < (${alias}."createdAt", ${alias}.id))::int + 1)`;

export const toScan = (r: ScanRecord): Scan => ({
  ...r,
  kind: r.kind as ScanKind,
  status: r.status as ScanStatus,
  riskLevel: (r.riskLevel as Severity | null) ?? null,
  findingsNotStored: r.findingsNotStored ?? 0,
  findingsTruncated: (r.findingsNotStored ?? 0) > 0,
  // Raw RETURNING lists (sweep, session cancel, queue moves) leave these out: none has any yet.
  skipped: Array.isArray(r.skipped) ? (r.skipped as unknown as SkippedInput[]) : [],
});


/**
 * Queue order, read by both sides: the owner's view (positions of their queued scans) and the
 * worker's (everyone behind a scan that left the queue moves up).
 */
export class ScanQueueReads {
  constructor(protected readonly prisma: PrismaClient) {}

  /** 1-based queue positions of the given QUEUED scans (arrival order), keyed by scan id. */
  async queuePositions(ids: readonly string[]): Promise<Map<string, number>> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return new Map();
    const rows = await this.prisma.$queryRaw<Array<{ id: string; pos: bigint }>>`
      SELECT id::text AS id, pos FROM (${QUEUED_POSITIONS}) q WHERE id = ANY(${valid}::uuid[])`;
    return new Map(rows.map((r) => [r.id, Number(r.pos)]));
  }

  /**
   * After a scan leaves the queue, every QUEUED scan behind it moves up: bump their sequence
   * numbers and return them with their new positions, for republishing.
   */
  async advanceQueue(after: { createdAt: Date; id: string }): Promise<Array<{ scan: Scan; position: number }>> {
    const rows = await this.prisma.$queryRaw<Array<ScanRecord & { pos: bigint }>>`
      WITH q AS (${QUEUED_POSITIONS}), moved AS (
        UPDATE "Scan" s SET seq = s.seq + 1 FROM q
        WHERE s.id = q.id AND (s."createdAt", s.id) > (${after.createdAt}, ${after.id}::uuid)
        RETURNING s.*, q.pos
      )
      SELECT ${scanColumns()}, pos FROM moved`;
    return rows.map(({ pos, ...s }) => ({ scan: toScan(s), position: Number(pos) }));
  }
}

/**
 * A session past its expiry is gone for its owner even before the cleanup job deletes it
 * (as the sessions module treats it), and so are its scans.
 */
export const liveSession = () => ({ session: { expiresAt: { gt: new Date() } } });

export async function lockSlots(tx: Tx): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SCAN_SLOTS_LOCK}::bigint)`;
}

