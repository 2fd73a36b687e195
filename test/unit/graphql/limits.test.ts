import "reflect-metadata";
import { parse, specifiedRules, validate, type GraphQLSchema } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { createQueryLimits, introspectionAllowed, usesIntrospection } from "../../../src/graphql/limits.js";
import { buildAppSchema } from "../../../src/graphql/schema.js";

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});

const limits = createQueryLimits({ MAX_QUERY_DEPTH: 8, MAX_QUERY_ALIASES: 2, MAX_QUERY_TOKENS: 50 });
const check = (source: string) => validate(schema, parse(source, limits.parseOptions), [...specifiedRules, ...limits.validationRules]).map((e) => e.message);

describe("query limits on the served schema", () => {
  it.each([
    ["a normal query", `{ me { id } sessions { id name } }`, null],
    ["depth 9 through Session.scans → Scan.session", `{ sessions { scans { edges { node { session { scans { edges { node { id } } } } } } } } }`, /depth/i],
    ["3 aliases", `{ a: me { id } b: me { id } c: me { id } }`, /alias/i],
  ])("%s", (_name, source, error) => {
    const messages = check(source);
    if (error === null) expect(messages).toEqual([]);
    else expect(messages.some((m) => (error as RegExp).test(m)), messages.join("; ")).toBe(true);
  });

  it("refuses documents over the token limit at parse time", () => {
    expect(() => parse(`{ me { ${"id ".repeat(60)} } }`, limits.parseOptions)).toThrow(/token/i);
  });

  it("reports limit errors as validation errors (not thrown), so they answer BAD_USER_INPUT", () => {
    expect(() => check(`{ a: me { id } b: me { id } c: me { id } }`)).not.toThrow();
  });
});

describe("introspection", () => {
  it.each([
    [`{ __schema { types { name } } }`, true],
    [`{ __type(name: "Scan") { name } }`, true],
    [`{ me { __typename id } }`, false],
    [`query Q { ...F } fragment F on Query { __schema { queryType { name } } }`, true],
  ])("usesIntrospection(%s) = %s", (source, expected) => {
    expect(usesIntrospection(parse(source))).toBe(expected);
  });

  it.each([
    [null, true, true],
    [{ id: "u", role: "USER" as const }, false, false],
    [{ id: "a", role: "ADMIN" as const }, false, true],
    [null, false, false],
  ])("allowed for %o with introspectionForAll=%s: %s", (user, forAll, expected) => {
    expect(introspectionAllowed(user, { introspectionForAll: forAll })).toBe(expected);
  });
});
