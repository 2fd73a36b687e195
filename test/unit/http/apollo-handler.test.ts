import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apolloHandler, searchOf } from "../../../src/http/apollo-handler.js";
import { AppError } from "../../../src/shared/errors.js";

/** The /graphql handler that replaced @as-integrations/express5 (bench/me.bench.ts): same answers, no ETag. */

describe("searchOf", () => {
  it.each([
    ["/", ""],
    ["/?", ""],
    ["/?query=%7B%20hello%20%7D", "?query=%7B%20hello%20%7D"],
    ["/graphql?a=1&b=2#frag", "?a=1&b=2"],
    ["/#x?y", ""],
  ])("%s -> %s", (url, search) => {
    expect(searchOf(url)).toBe(search);
  });
});

describe("apolloHandler", () => {
  let base = "";
  const apollo = new ApolloServer<{ who: string }>({
    typeDefs: "type Query { hello: String, who: String } type Mutation { bump: Int }",
    resolvers: { Query: { hello: () => "world", who: (_r, _a, ctx: { who: string }) => ctx.who }, Mutation: { bump: () => 1 } },
    stopOnTerminationSignals: false,
  });
  const server = createServer();
  beforeAll(async () => {
    await apollo.start();
    const app = express();
    app.use(
      "/graphql",
      express.json(),
      apolloHandler(apollo, async ({ req }) => {
        if (req.headers.authorization === "Bearer bad") throw new AppError("UNAUTHENTICATED", "Invalid token", { http: { status: 401 } });
        return { who: String(req.headers["x-who"] ?? "nobody") };
      }),
    );
    server.on("request", app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    await apollo.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(base, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  it("answers a POST with Apollo's body, status and content type, a length and no ETag", async () => {
    const res = await post({ query: "{ hello who }" }, { "x-who": "alice" });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(JSON.parse(text)).toEqual({ data: { hello: "world", who: "alice" } });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    expect(res.headers.get("etag")).toBeNull();
  });

  it("passes the query string of a GET (Apollo's CSRF prevention still applies)", async () => {
    const url = `${base}?query=${encodeURIComponent("{ hello }")}`;
    const ok = await fetch(url, { headers: { "apollo-require-preflight": "1" } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { hello: "world" } });
    const blocked = await fetch(url);
    expect(blocked.status).toBe(400);
  });

  it("keeps Apollo's statuses and headers: 405 with Allow for a mutation over GET, 401 from the context", async () => {
    const get = await fetch(`${base}?query=${encodeURIComponent("mutation { bump }")}`, { headers: { "apollo-require-preflight": "1" } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const bad = await post({ query: "{ hello }" }, { authorization: "Bearer bad" });
    expect(bad.status).toBe(401);
    expect((await bad.json()) as unknown).toMatchObject({ errors: [{ extensions: { code: "UNAUTHENTICATED" } }] });
  });

  it("sends headers without a body to HEAD", async () => {
    const res = await fetch(`${base}?query=${encodeURIComponent("{ hello }")}`, { method: "HEAD", headers: { "apollo-require-preflight": "1" } });
    expect(res.headers.get("content-type")).toMatch(/json/);
    expect(await res.text()).toBe("");
  });
});
