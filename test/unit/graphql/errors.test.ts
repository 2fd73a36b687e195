import "reflect-metadata";
import { GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLString, graphql, GraphQLNonNull } from "graphql";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { maskError, RepeatedLog } from "../../../src/graphql/errors.js";
import { AppError } from "../../../src/shared/errors.js";

/** A tiny schema whose resolvers throw each kind of error the server can meet. */
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: {
      app: { type: GraphQLString, resolve: () => { throw new AppError("NOT_FOUND", "Scan not found", { http: { status: 404 } }); } },
      crash: { type: GraphQLString, resolve: () => { throw new Error("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2"); } },
      nonNull: { type: new GraphQLNonNull(GraphQLString), resolve: () => null },
      wrapped: { type: GraphQLString, resolve: () => { throw new GraphQLError("looks safe", { extensions: { code: "FORBIDDEN" }, originalError: new TypeError("x is undefined") }); } },
    },
  }),
});

async function run(source: string) {
  const logged: unknown[] = [];
  const log = pino({ level: "error" }, { write: (line: string) => logged.push(JSON.parse(line)) });
  const result = await graphql({ schema, source });
  return { errors: (result.errors ?? []).map((e) => maskError(e.toJSON(), e, log)), logged };
}

describe("maskError: allow-list the contract's errors, mask and log the rest", () => {
  it("keeps an AppError's code and message, without the http hint", async () => {
    const { errors, logged } = await run(`{ app }`);
    expect(errors[0]).toMatchObject({ message: "Scan not found", extensions: { code: "NOT_FOUND" } });
    expect(errors[0]!.extensions).not.toHaveProperty("http");
    expect(logged).toHaveLength(0);
  });

  it.each(["crash", "wrapped", "nonNull"])("masks %s as INTERNAL_SERVER_ERROR and logs it in full", async (field) => {
    const { errors, logged } = await run(`{ ${field} }`);
    expect(errors[0]).toMatchObject({ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } });
    expect(JSON.stringify(errors)).not.toMatch(/ECONNREFUSED|hunter2|undefined|stack/);
    expect(logged).toHaveLength(1);
  });

  it("answers request errors (syntax, validation) as BAD_USER_INPUT with the reason", async () => {
    const { errors } = await run(`{ nope }`);
    expect(errors[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
    expect(errors[0]!.message).toMatch(/nope/);
  });
});

describe("overload and repeated errors (issue 11)", () => {
  const logLines = () => {
    const lines: Array<Record<string, unknown>> = [];
    return { lines, log: pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) }) };
  };

  it.each([
    ["pg-pool wait", new Error("timeout exceeded when trying to connect"), true],
    ["Prisma transaction wait", Object.assign(new Error("Transaction API error: Unable to start a transaction in the given time."), { code: "P2028" }), true],
    ["PostgreSQL out of slots", Object.assign(new Error("sorry, too many clients already"), { code: "53300" }), true],
    ["wrapped in a cause", new Error("query failed", { cause: new Error("timeout exceeded when trying to connect") }), true],
    ["a bug", new TypeError("x is undefined"), false],
  ])("%s: answered CAPACITY_EXCEEDED = %s", (_name, err, busy) => {
    const { log } = logLines();
    const gql = new GraphQLError("wrapped", { originalError: err as Error, path: ["scans"] });
    const masked = maskError(gql.toJSON(), gql, log, { retryAfterSeconds: 7 });
    if (busy) {
      expect(masked.extensions).toEqual({ code: "CAPACITY_EXCEEDED", retryAfterSeconds: 7, reason: "DATABASE_BUSY" });
      expect(masked.message).not.toMatch(/timeout|pool|Prisma|P2028|clients/i);
    } else {
      expect(masked.extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
    }
  });

  it("logs a repeated error once per window with a count, not once each", () => {
    const { lines, log } = logLines();
    const repeats = new RepeatedLog(log, 60_000);
    for (let i = 0; i < 1000; i++) {
      const gql = new GraphQLError("wrapped", { originalError: new Error("timeout exceeded when trying to connect"), path: ["scans"] });
      maskError(gql.toJSON(), gql, log, { repeats });
    }
    expect(lines).toHaveLength(1);
    repeats.flush();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ repeated: 999 });
  });

  it("hides graphql-js suggestions in production", async () => {
    const { log } = logLines();
    const result = await graphql({ schema, source: `{ crsh }` });
    const e = result.errors![0]!;
    expect(e.message).toMatch(/Did you mean/);
    expect(maskError(e.toJSON(), e, log, { hideSuggestions: true }).message).toBe('Cannot query field "crsh" on type "Query".');
  });
});
