import { decodeCursor, keysetPage, pageSize, type PageOf } from "../../shared/pagination.js";
import { findingPage, findingQuery, type FindingArgs } from "./finding-page.js";
import type { FindingPageRow, ScanPagesRepo } from "./scan-pages.repo.js";
import type { Finding, Scan } from "./scan.type.js";

/**
 * Pages under a list, many parents per statement (issue 11): the DataLoaders of
 * graphql/loaders.ts call these with every parent of one request that asked the same arguments.
 * The caller has already established that the parents are the owner's (they were loaded
 * owner-scoped); the queries put the owner in the WHERE all the same.
 */
export class ScanPages {
  constructor(private readonly repo: ScanPagesRepo) {}

  async findings(ownerId: string, scanIds: readonly string[], args: FindingArgs): Promise<Map<string, PageOf<Finding>>> {
    const query = findingQuery(args);
    const { rows, totals } = await this.repo.findings({ ownerId, scanIds, ...query });
    const byScan = new Map<string, FindingPageRow[]>();
    for (const f of rows) {
      let list = byScan.get(f.scanId);
      if (!list) byScan.set(f.scanId, (list = []));
      list.push(f);
    }
    const out = new Map<string, PageOf<Finding>>();
    for (const scanId of scanIds) out.set(scanId, findingPage(byScan.get(scanId) ?? [], query.take, totals.get(scanId) ?? 0));
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
    for (const sessionId of sessionIds) out.set(sessionId, keysetPage(bySession.get(sessionId) ?? [], take, totals.get(sessionId) ?? 0));
    return out;
  }
}
