import type { PrismaClient } from "../../platform/db/prisma.js";
import type { KeysetCursor } from "../../shared/pagination.js";
import { isUuid } from "../../shared/ids.js";
import type { StoredFinding } from "./finding-page.js";
import { type ScanRecord, toScan } from "./scan.repo.js";
import type { Scan } from "./scan.type.js";

/** A finding of the paged query, with its scan and the scan's filtered total. */
export type FindingPageRow = StoredFinding & { scanId: string; total: bigint };

type ScanPageRow = ScanRecord & { total: bigint };

/**
 * Pages under a list (issue 11): `Scan.findings` of every scan of a page, `Session.scans` of
 * every session, each in ONE statement with its counts (window functions partitioned by the
 * parent), never a query per parent. Owner in every WHERE.
 */
export class ScanPagesRepo {
  constructor(private readonly prisma: PrismaClient) {}

  /** Up to `take + 1` findings per scan (ordinal order, after `afterOrdinal`) and each scan's filtered total. */
  async findings(args: {
    ownerId: string;
    scanIds: readonly string[];
    take: number;
    afterOrdinal: number | null;
    types: readonly string[] | null;
    severities: readonly string[] | null;
  }): Promise<{ rows: FindingPageRow[]; totals: Map<string, number> }> {
    const ids = args.scanIds.filter(isUuid);
    if (ids.length === 0) return { rows: [], totals: new Map() };
    const types = args.types ? [...args.types] : null;
    const severities = args.severities ? [...args.severities] : null;
    const rows = await this.prisma.$queryRaw<Array<FindingPageRow & { rn: bigint | null }>>`
      WITH matched AS (
        SELECT f."scanId", f.id, f.ordinal, f.type, f.severity, f.confidence, f."maskedValue", f.occurrences,
               f."matchRatio", f.source, f.line, f."table", f."column"
        FROM "Finding" f
        WHERE f."ownerId" = ${args.ownerId} AND f."scanId" = ANY(${ids}::uuid[])
          AND (${types}::text[] IS NULL OR f.type::text = ANY(${types}::text[]))
          AND (${severities}::text[] IS NULL OR f.severity::text = ANY(${severities}::text[]))
      ), totals AS (
        SELECT "scanId", count(*) AS total FROM matched GROUP BY "scanId"
      ), paged AS (
        SELECT m.*, row_number() OVER (PARTITION BY m."scanId" ORDER BY m.ordinal) AS rn
        FROM matched m WHERE (${args.afterOrdinal}::int IS NULL OR m.ordinal > ${args.afterOrdinal}::int)
      )
      SELECT t."scanId"::text AS "scanId", t.total, p.id::text AS id, p.ordinal, p.type::text AS type,
             p.severity::text AS severity, p.confidence, p."maskedValue", p.occurrences, p."matchRatio",
             p.source, p.line, p."table", p."column", p.rn
      FROM totals t LEFT JOIN paged p ON p."scanId" = t."scanId" AND p.rn <= ${args.take + 1}
      ORDER BY t."scanId", p.ordinal`;
    const totals = new Map<string, number>();
    for (const r of rows) totals.set(r.scanId, Number(r.total));
    return { rows: rows.filter((r) => r.rn !== null), totals };
  }

  /** Up to `take + 1` scans per session (newest first, after the cursor) and each session's total. */
  async scansOfSessions(args: {
    ownerId: string;
    sessionIds: readonly string[];
    take: number;
    after: KeysetCursor | null;
  }): Promise<{ rows: Scan[]; totals: Map<string, number> }> {
    const ids = args.sessionIds.filter(isUuid);
    if (ids.length === 0) return { rows: [], totals: new Map() };
    const afterAt = args.after?.createdAt ?? null;
    const afterId = args.after?.id ?? null;
    const rows = await this.prisma.$queryRaw<Array<ScanPageRow & { rn: bigint | null; parentId: string; parentTotal: bigint }>>`
      WITH mine AS (
        SELECT s.*, count(*) OVER (PARTITION BY s."sessionId") AS total
        FROM "Scan" s
        WHERE s."ownerId" = ${args.ownerId} AND s."sessionId" = ANY(${ids}::uuid[])
      ), totals AS (
        SELECT DISTINCT "sessionId", total FROM mine
      ), paged AS (
        SELECT m.*, row_number() OVER (PARTITION BY m."sessionId" ORDER BY m."createdAt" DESC, m.id DESC) AS rn
        FROM mine m
        WHERE ${afterAt}::timestamptz IS NULL OR (m."createdAt", m.id) < (${afterAt}::timestamptz, ${afterId}::uuid)
      )
      SELECT p.*, t."sessionId" AS "parentId", t.total AS "parentTotal", p.rn
      FROM totals t LEFT JOIN paged p ON p."sessionId" = t."sessionId" AND p.rn <= ${args.take + 1}
      ORDER BY t."sessionId", p."createdAt" DESC, p.id DESC`;
    const totals = new Map<string, number>();
    for (const r of rows) totals.set(r.parentId, Number(r.parentTotal));
    const scans = rows
      .filter((r) => r.rn !== null)
      .map(({ total: _t, rn: _rn, parentId: _p, parentTotal: _pt, ...r }) => toScan(r as ScanRecord));
    return { rows: scans, totals };
  }
}
