import "reflect-metadata";
import { graphql, graphqlSync, type GraphQLSchema } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildAppSchema } from "../../../src/graphql/schema.js";

/** `me` checks its caller itself (no type-graphql auth middleware): the same answers as @Authorized(). */

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});

const me = (user: { id: string; role: "USER" | "ADMIN" } | null) => graphql({ schema, source: "{ me { id role } }", contextValue: { user } });

describe("Query.me", () => {
  it("answers the token's user and role", async () => {
    expect(await me({ id: "alice", role: "USER" })).toEqual({ data: { me: { id: "alice", role: "USER" } } });
    expect(await me({ id: "root", role: "ADMIN" })).toEqual({ data: { me: { id: "root", role: "ADMIN" } } });
  });

  it("resolves synchronously (no promise chain per request)", () => {
    // graphqlSync throws when any resolver returns a promise, as type-graphql's auth middleware does.
    expect(graphqlSync({ schema, source: "{ me { id } }", contextValue: { user: { id: "alice", role: "USER" } } })).toEqual({ data: { me: { id: "alice" } } });
  });

  it("refuses an anonymous caller with UNAUTHENTICATED, as @Authorized() does", async () => {
    const result = await me(null);
    expect(result.data).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).toBe("Authentication required");
    expect(result.errors![0]!.originalError).toMatchObject({ code: "UNAUTHENTICATED" });
    expect(result.errors![0]!.path).toEqual(["me"]);
  });
});
