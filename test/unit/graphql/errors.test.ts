import "reflect-metadata";
import { GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLString, graphql, GraphQLNonNull } from "graphql";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { maskError } from "../../../src/graphql/errors.js";
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
