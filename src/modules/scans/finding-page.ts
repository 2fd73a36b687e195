import { AppError } from "../../shared/errors.js";
import { pageSize, type PageOf } from "../../shared/pagination.js";
import type { Finding } from "./scan.type.js";

/** The stored columns a finding is shown from: a `Finding` row, or a row of the paged query. */
export interface StoredFinding {
  id: string;
  ordinal: number;
  type: string;
  severity: string;
  confidence: number;
  maskedValue: string;
  occurrences: number;
  matchRatio: number | null;
  source: string;
  line: number | null;
  table: string | null;
  column: string | null;
}

/** The arguments of `Scan.findings` (API.md). */
export interface FindingArgs {
  first?: number | null;
  after?: string | null;
  types?: readonly string[] | null;
  severities?: readonly string[] | null;
}

/** What the findings queries take from {@link FindingArgs}: page size 1..500 (100 by default), start, filters (null: all). */
export function findingQuery(args: FindingArgs) {
  return {
    take: pageSize(args.first, 100, 500),
    afterOrdinal: ordinalAfter(args.after),
    types: args.types?.length ? args.types : null,
    severities: args.severities?.length ? args.severities : null,
  };
}

/** Opaque finding cursor: base64url of "f<ordinal>" (findings are paged in ordinal order). */
export const findingCursor = (ordinal: number): string => Buffer.from(`f${ordinal}`, "utf8").toString("base64url");

/** The ordinal a page starts after: null for the first page, BAD_USER_INPUT for a cursor that is not a finding cursor. */
export function ordinalAfter(after: string | null | undefined): number | null {
  if (!after) return null;
  const m = /^f(\d{1,9})$/.exec(Buffer.from(after, "base64url").toString("utf8"));
  if (!m) throw new AppError("BAD_USER_INPUT", "Invalid cursor", { field: "after" });
  return Number(m[1]);
}

export function toFinding(f: StoredFinding): Finding & { ordinal: number } {
  return {
    id: f.id,
    ordinal: f.ordinal,
    type: f.type as Finding["type"],
    severity: f.severity as Finding["severity"],
    confidence: f.confidence,
    maskedValue: f.maskedValue,
    occurrences: f.occurrences,
    matchRatio: f.matchRatio,
    location: { source: f.source, line: f.line, table: f.table, column: f.column },
  };
}

/** One page of findings from up to `take + 1` stored rows in ordinal order. */
export function findingPage(rows: readonly StoredFinding[], take: number, totalCount: number): PageOf<Finding> {
  const hasNextPage = rows.length > take;
  const nodes = (hasNextPage ? rows.slice(0, take) : rows).map(toFinding);
  return {
    edges: nodes.map((node) => ({ cursor: findingCursor(node.ordinal), node })),
    pageInfo: { hasNextPage, endCursor: nodes.length ? findingCursor(nodes[nodes.length - 1]!.ordinal) : null },
    totalCount,
  };
}
