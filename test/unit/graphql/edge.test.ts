import { buildSchema, getOperationAST, parse, type DocumentNode } from "graphql";
import { describe, expect, it } from "vitest";
import { GraphQLEdge } from "../../../src/graphql/edge.js";
import { createQueryLimits } from "../../../src/graphql/limits.js";
import { createMetrics } from "../../../src/platform/observability/metrics.js";
import type { AuthUser } from "../../../src/platform/auth/jwt.js";

/**
 * GraphQLEdge.admit keeps what it learns from a document (introspection, cost without variables)
 * per DocumentNode (bench/me.bench.ts); the answer for a repeated document must not change.
 */

const schema = buildSchema(`
  type Query { items(first: Int = 10): [Item!]! }
  type Item { id: ID! name: String tags(first: Int = 10): [String!]! }
`);
const config = { MAX_QUERY_COST: 500, MAX_SESSIONS_PER_USER: 10, introspectionForAll: false, isProduction: true };
const edge = new GraphQLEdge({
  config,
  schema,
  limits: createQueryLimits({ MAX_QUERY_DEPTH: 10, MAX_QUERY_ALIASES: 10, MAX_QUERY_TOKENS: 1000 }),
  metrics: createMetrics({ instanceId: "edge-test" }),
  ensureUser: async () => undefined,
});
const user: AuthUser = { id: "u", role: "USER" };
const admin: AuthUser = { id: "a", role: "ADMIN" };

const admit = (document: DocumentNode, who: AuthUser | null, variables?: Record<string, unknown>) =>
  edge.admit({ document, operation: getOperationAST(document), variables, user: who }).then(
    () => "admitted",
    (e: { extensions?: { code?: string; reason?: string } }) => e.extensions?.reason ?? e.extensions?.code,
  );

describe("GraphQLEdge.admit on a repeated document", () => {
  it("refuses introspection to a user every time, and still admits it for an admin", async () => {
    const document = parse("{ __schema { queryType { name } } }");
    expect(await admit(document, user)).toBe("FORBIDDEN");
    expect(await admit(document, user)).toBe("FORBIDDEN");
    expect(await admit(document, admin)).toBe("admitted");
    expect(await admit(document, null)).toBe("FORBIDDEN");
  });

  it("refuses an over-cost document without variables every time", async () => {
    const document = parse("{ items(first: 100) { id tags(first: 50) } }");
    for (let i = 0; i < 3; i++) expect(await admit(document, user)).toBe("QUERY_LIMIT");
    const small = parse("{ items(first: 5) { id name } }");
    for (let i = 0; i < 3; i++) expect(await admit(small, user)).toBe("admitted");
  });

  it("costs a document with variables per request: the same node passes or not by its variables", async () => {
    const document = parse("query Q($n: Int, $m: Int) { items(first: $n) { id tags(first: $m) } }");
    expect(await admit(document, user, { n: 5, m: 5 })).toBe("admitted");
    expect(await admit(document, user, { n: 100, m: 50 })).toBe("QUERY_LIMIT");
    expect(await admit(document, user, { n: 5, m: 5 })).toBe("admitted");
  });

  it("keeps one answer per operation of a document with several", async () => {
    const document = parse("query Small { items(first: 1) { id } } query Big { items(first: 100) { id tags(first: 50) } }");
    const run = (name: string) =>
      edge.admit({ document, operation: getOperationAST(document, name), variables: undefined, user }).then(() => "admitted", (e: { extensions?: { reason?: string } }) => e.extensions?.reason);
    expect(await run("Small")).toBe("admitted");
    expect(await run("Big")).toBe("QUERY_LIMIT");
    expect(await run("Small")).toBe("admitted");
    expect(await run("Big")).toBe("QUERY_LIMIT");
  });
});
