import "reflect-metadata";
import { getOperationAST, parse, type GraphQLSchema } from "graphql";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { operationCost } from "../../../src/graphql/cost.js";
import { buildAppSchema } from "../../../src/graphql/schema.js";

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});

const LIMIT = 5000; // MAX_QUERY_COST's default
const cost = (source: string, variables?: Record<string, unknown>, operationName?: string) => {
  const document = parse(source);
  return operationCost(schema, document, getOperationAST(document, operationName)!, variables, { listSizes: { "Query.sessions": 100 } });
};

const FINDING = `id type severity confidence maskedValue occurrences matchRatio location { source line table column }`;
const SCAN = `id kind status progress stage itemsProcessed itemsTotal queuePosition findingsCount riskLevel seq createdAt startedAt finishedAt error { code message } session { id name createdAt expiresAt lastActiveAt }`;

describe("operationCost: variables count like literals (issue 11)", () => {
  it("costs `first: $n` exactly as `first: <n>`", () => {
    const literal = cost(`{ scans(first: 100) { edges { node { id } } } }`);
    const variable = cost(`query Q($n: Int) { scans(first: $n) { edges { node { id } } } }`, { n: 100 });
    expect(variable).toBe(literal);
    expect(cost(`query Q($n: Int) { scans(first: $n) { edges { node { id } } } }`, { n: 10 })).toBeLessThan(literal);
  });

  it("uses the schema default when the variable is absent, and the variable's own default", () => {
    const byDefault = cost(`{ scan(id: "x") { findings { edges { node { id } } } } }`);
    expect(cost(`query Q($m: Int) { scan(id: "x") { findings(first: $m) { edges { node { id } } } } }`, {})).toBe(byDefault);
    expect(cost(`query Q($m: Int = 500) { scan(id: "x") { findings(first: $m) { edges { node { id } } } } }`, {})).toBeGreaterThan(byDefault);
  });

  it.each([
    ["the default findings page (100) with every field of a finding", `{ scan(id: "x") { id findings { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${FINDING} } } } } }`, true],
    ["the default scans page (20) with every field of a scan", `{ scans { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${SCAN} } } } }`, true],
    ["a full scans page (100) with every field of a scan", `{ scans(first: 100) { totalCount edges { cursor node { ${SCAN} } } } }`, true],
    ["every session with its name", `{ sessions { id name createdAt expiresAt } }`, true],
    ["sessions → scans($n) → findings($m)", `{ sessions { scans(first: 20) { edges { node { findings(first: 100) { edges { node { ${FINDING} } } } } } } } }`, false],
    ["scans(100) → findings(500)", `{ scans(first: 100) { edges { node { findings(first: 500) { edges { node { id } } } } } } }`, false],
  ])("%s: admitted = %s", (_name, source, admitted) => {
    expect(cost(source) <= LIMIT).toBe(admitted);
  });

  it("refuses the nested query with variables that the literal-only rule let through", () => {
    const q = `query Q($n: Int, $m: Int) { sessions { scans(first: $n) { edges { node { findings(first: $m) { edges { node { id } } } } } } } }`;
    expect(cost(q, { n: 1, m: 1 })).toBeLessThanOrEqual(LIMIT);
    expect(cost(q, { n: 100, m: 500 })).toBeGreaterThan(LIMIT);
  });

  it("admits every operation of the web app and the end-to-end tests with their default variables", () => {
    const files = ["web/src/operations.graphql", "test/e2e/operations/scans.graphql", "test/e2e/operations/sessions.graphql", "test/e2e/operations/viewer.graphql", "test/e2e/operations/capacity.graphql"];
    for (const file of files) {
      const document = parse(readFileSync(file, "utf8"));
      for (const def of document.definitions) {
        if (def.kind !== "OperationDefinition") continue;
        const c = operationCost(schema, document, def, {}, { listSizes: { "Query.sessions": 100 } });
        expect(c, `${file} ${def.name?.value}`).toBeLessThanOrEqual(LIMIT);
      }
    }
  });
});
