import type { PrismaClient } from "../../platform/db/prisma.js";
import { isUuid } from "../../shared/ids.js";
import { QUEUED_POSITIONS, scanColumns, type ScanRecord, toScan } from "./scan.repo.js";
import { type Scan, ScanStatus } from "./scan.type.js";

/** A scan with its 1-based queue position (null unless QUEUED). */
export interface ScanWithPosition {
  scan: Scan;
  position: number | null;
}

/** Most scans one replay hands a subscriber (newest kept): a bound, not a page. */
export const MAX_REPLAYED_SCANS = 500;

/** A Scan row (scanColumns), with the request it answers and its queue position. */
type Row = ScanRecord & { key: number; pos: bigint | null };

/**
 * The reads behind live subscriptions (issue 11): one statement serves a whole batch of
 * subscribers, owner in every WHERE (each request is an (owner, …) pair, joined on the owner
 * column). Queue positions come from the same statement (a window over the QUEUED scans, at most
 * MAX_QUEUED_SCANS rows on the (status, createdAt, id) index), so starting a subscription costs
 * one query, shared by every subscription that starts with it.
 */
export class ScanFeedRepo {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Per request: the owner's QUEUED and RUNNING scans, and with `since` also every scan that
   * ended at or after it (terminal ones included), oldest first, in live sessions only.
   * Results are indexed like `requests`.
   */
  async changedSince(requests: ReadonlyArray<{ ownerId: string; since: Date | null }>): Promise<ScanWithPosition[][]> {
    if (requests.length === 0) return [];
    const keys = requests.map((_, i) => i);
    const owners = requests.map((r) => r.ownerId);
    const sinces = requests.map((r) => r.since);
    const rows = await this.prisma.$queryRaw<Row[]>`
      WITH req AS (
        SELECT * FROM unnest(${keys}::int[], ${owners}::text[], ${sinces}::timestamptz[]) AS r(key, owner, since)
      ), queued AS (${QUEUED_POSITIONS}), hits AS (
        SELECT r.key, s.*, row_number() OVER (PARTITION BY r.key ORDER BY s."createdAt" DESC, s.id DESC) AS rn
        FROM req r
        JOIN "Scan" s ON s."ownerId" = r.owner
        JOIN "Session" se ON se.id = s."sessionId" AND se."ownerId" = r.owner AND se."expiresAt" > now()
        WHERE s.status IN ('QUEUED', 'RUNNING') OR (r.since IS NOT NULL AND s."finishedAt" >= r.since)
      )
      SELECT h.key, ${scanColumns("h")}, q.pos
      FROM hits h LEFT JOIN queued q ON q.id = h.id
      WHERE h.rn <= ${MAX_REPLAYED_SCANS}
      ORDER BY h.key, h."createdAt", h.id`;
    return group(requests.length, rows);
  }

  /** Per request: the owner's scan with that id (null for an unknown or foreign id). */
  async current(requests: ReadonlyArray<{ ownerId: string; scanId: string }>): Promise<Array<ScanWithPosition | null>> {
    const valid = requests.map((r, key) => ({ ...r, key })).filter((r) => isUuid(r.scanId));
    const out: Array<ScanWithPosition | null> = requests.map(() => null);
    if (valid.length === 0) return out;
    const rows = await this.prisma.$queryRaw<Row[]>`
      WITH req AS (
        SELECT * FROM unnest(${valid.map((r) => r.key)}::int[], ${valid.map((r) => r.ownerId)}::text[], ${valid.map((r) => r.scanId)}::uuid[]) AS r(key, owner, id)
      ), queued AS (${QUEUED_POSITIONS})
      SELECT r.key, ${scanColumns("s")}, q.pos
      FROM req r
      JOIN "Scan" s ON s.id = r.id AND s."ownerId" = r.owner
      JOIN "Session" se ON se.id = s."sessionId" AND se."ownerId" = r.owner AND se."expiresAt" > now()
      LEFT JOIN queued q ON q.id = s.id`;
    for (const row of rows) out[row.key] = withPosition(row);
    return out;
  }
}

function withPosition(row: Row): ScanWithPosition {
  const { key: _key, pos: _pos, ...record } = row;
  const scan = toScan(record);
  return { scan, position: scan.status === ScanStatus.QUEUED && row.pos !== null ? Number(row.pos) : null };
}

function group(n: number, rows: Row[]): ScanWithPosition[][] {
  const out: ScanWithPosition[][] = Array.from({ length: n }, () => []);
  for (const row of rows) out[row.key]!.push(withPosition(row));
  return out;
}
