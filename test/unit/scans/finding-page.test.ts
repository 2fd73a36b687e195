import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { findingCursor, findingPage, findingQuery, ordinalAfter, type StoredFinding } from "../../../src/modules/scans/finding-page.js";
import { AppError } from "../../../src/shared/errors.js";
import { encodeCursor, keysetPage } from "../../../src/shared/pagination.js";

const row = (ordinal: number): StoredFinding => ({
  id: `id-${ordinal}`,
  ordinal,
  type: "EMAIL",
  severity: "MEDIUM",
  confidence: 0.9,
  maskedValue: "a***@example.com",
  occurrences: 2,
  matchRatio: null,
  source: "a.txt",
  line: ordinal,
  table: null,
  column: null,
});

describe("finding cursors", () => {
  it.each([0, 1, 42, 999_999_999])("ordinal %i survives the round trip", (n) => {
    expect(ordinalAfter(findingCursor(n))).toBe(n);
  });

  it.each([null, undefined, ""])("%j starts at the beginning", (after) => {
    expect(ordinalAfter(after)).toBeNull();
  });

  it.each([
    ["not a cursor", "not-a-cursor"],
    ["a scan cursor", encodeCursor({ createdAt: new Date(0), id: "0b6f1c1e-2f5a-4c1e-9d3b-7a1e2c3d4e5f" })],
    ["ten digits", Buffer.from("f1234567890").toString("base64url")],
    ["a negative ordinal", Buffer.from("f-1").toString("base64url")],
  ])("%s is BAD_USER_INPUT on after", (_name, after) => {
    let error: unknown;
    try {
      ordinalAfter(after);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("BAD_USER_INPUT");
    expect((error as AppError).extensions.field).toBe("after");
  });
});

describe("findingQuery", () => {
  it.each([
    ["defaults", {}, { take: 100, afterOrdinal: null, types: null, severities: null }],
    ["empty filters mean all", { types: [], severities: [] }, { take: 100, afterOrdinal: null, types: null, severities: null }],
    ["everything given", { first: 500, after: findingCursor(7), types: ["EMAIL"], severities: ["HIGH"] }, { take: 500, afterOrdinal: 7, types: ["EMAIL"], severities: ["HIGH"] }],
  ])("%s", (_name, args, expected) => {
    expect(findingQuery(args)).toEqual(expected);
  });

  it.each([0, 501, 1.5])("first: %s is BAD_USER_INPUT on first", (first) => {
    expect(() => findingQuery({ first })).toThrow(/first must be between 1 and 500/);
  });
});

describe("findingPage", () => {
  it.each([
    ["empty", 0, 2, { hasNextPage: false, count: 0 }],
    ["fewer than take", 1, 2, { hasNextPage: false, count: 1 }],
    ["exactly take", 2, 2, { hasNextPage: false, count: 2 }],
    ["take + 1 fetched", 3, 2, { hasNextPage: true, count: 2 }],
  ])("%s", (_name, fetched, take, expected) => {
    const rows = Array.from({ length: fetched }, (_, i) => row(i + 1));
    const page = findingPage(rows, take, 7);
    expect(page.edges).toHaveLength(expected.count);
    expect(page.pageInfo.hasNextPage).toBe(expected.hasNextPage);
    expect(page.totalCount).toBe(7);
    expect(page.pageInfo.endCursor).toBe(expected.count ? findingCursor(expected.count) : null);
    for (const [i, edge] of page.edges.entries()) {
      expect(edge.cursor).toBe(findingCursor(i + 1));
      expect(edge.node).toMatchObject({ id: `id-${i + 1}`, type: "EMAIL", location: { source: "a.txt", line: i + 1, table: null, column: null } });
    }
  });
});

describe("keysetPage", () => {
  it("cuts take + 1 rows to take, with the last kept row's cursor", () => {
    const rows = [3, 2, 1].map((n) => ({ createdAt: new Date(n * 1000), id: `0b6f1c1e-2f5a-4c1e-9d3b-7a1e2c3d4e5${n}` }));
    const page = keysetPage(rows, 2, 9);
    expect(page.edges.map((e) => e.node)).toEqual(rows.slice(0, 2));
    expect(page.edges.map((e) => e.cursor)).toEqual(rows.slice(0, 2).map(encodeCursor));
    expect(page.pageInfo).toEqual({ hasNextPage: true, endCursor: encodeCursor(rows[1]!) });
    expect(page.totalCount).toBe(9);
    expect(keysetPage([], 2, 0)).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 });
  });
});
