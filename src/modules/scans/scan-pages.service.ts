import { AppError } from "../../shared/errors.js";
import { decodeCursor, encodeCursor, pageSize, toPage } from "../../shared/pagination.js";
import type { ScanPagesRepo } from "./scan-pages.repo.js";
import type { Finding, Scan } from "./scan.type.js";

export interface FindingArgs {
  first?: number | null;
  after?: string | null;
  types?: readonly string[] | null;
  severities?: readonly string[] | null;
}

export interface PageOf<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

const findingCursor = (ordinal: number) => Buffer.from(`f${ordinal}`, "utf8").toString("base64url");

/**
 * Pages under a list, many parents per statement (issue 11): the DataLoaders of
 * graphql/loaders.ts call these with every parent of one request that asked the same arguments.
 * The caller has already established that the parents are the owner's (they were loaded
 * owner-scoped); the queries put the owner in the WHERE all the same.
 */
export class ScanPages {
  constructor(private readonly repo: ScanPagesRepo) {}

  async findings(ownerId: string, scanIds: readonly string[], args: FindingArgs): Promise<Map<string, PageOf<Finding>>> {
    const take = pageSize(args.first, 100, 500);
    let afterOrdinal: number | null = null;
    if (args.after) {
      const m = /^f(\d{1,9})$/.exec(Buffer.from(args.after, "base64url").toString("utf8"));
      if (!m) throw new AppError("BAD_USER_INPUT", "Invalid cursor", { field: "after" });
      afterOrdinal = Number(m[1]);
    }
    const { rows, totals } = await this.repo.findings({
      ownerId,
      scanIds,
      take,
      afterOrdinal,
      types: args.types?.length ? args.types : null,
      severities: args.severities?.length ? args.severities : null,
    });
    const byScan = new Map<string, Finding[]>();
    for (const f of rows) {
      let list = byScan.get(f.scanId);
      if (!list) byScan.set(f.scanId, (list = []));
      list.push({
        id: f.id,
        ordinal: f.ordinal,
        type: f.type as Finding["type"],
        severity: f.severity as Finding["severity"],
        confidence: f.confidence,
        maskedValue: f.maskedValue,
        occurrences: f.occurrences,
        matchRatio: f.matchRatio,
        location: { source: f.source, line: f.line, table: f.table, column: f.column },
      } as Finding & { ordinal: number });
    }
    const out = new Map<string, PageOf<Finding>>();
    for (const scanId of scanIds) {
      const all = (byScan.get(scanId) ?? []) as Array<Finding & { ordinal: number }>;
      const hasNextPage = all.length > take;
      const nodes = hasNextPage ? all.slice(0, take) : all;
      out.set(scanId, {
        edges: nodes.map((node) => ({ cursor: findingCursor(node.ordinal), node })),
        pageInfo: { hasNextPage, endCursor: nodes.length ? findingCursor(nodes[nodes.length - 1]!.ordinal) : null },
        totalCount: totals.get(scanId) ?? 0,
      });
    }
    return out;
  }

  async scansOfSessions(ownerId: string, sessionIds: readonly string[], args: { first?: number | null; after?: string | null }): Promise<Map<string, PageOf<Scan>>> {
    const take = pageSize(args.first, 20, 100);
    const after = args.after ? decodeCursor(args.after) : null;
    const { rows, totals } = await this.repo.scansOfSessions({ ownerId, sessionIds, take, after });
    const bySession = new Map<string, Scan[]>();
    for (const scan of rows) {
      let list = bySession.get(scan.sessionId);
      if (!list) bySession.set(scan.sessionId, (list = []));
      list.push(scan);
    }
    const out = new Map<string, PageOf<Scan>>();
    for (const sessionId of sessionIds) {
      const page = toPage(bySession.get(sessionId) ?? [], take);
      out.set(sessionId, {
        edges: page.nodes.map((node) => ({ cursor: encodeCursor(node), node })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
        totalCount: totals.get(sessionId) ?? 0,
      });
    }
    return out;
  }
}
