import { buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema, buildSchema, type IntrospectionQuery } from "graphql";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MeDocument } from "../generated/graphql.js";
import { CloseCode } from "../../src/graphql/close-codes.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request, TestWsClient } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

let db: TestDatabase;
let server: ServerProcess;
let alice: string;
let admin: string;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServerProcess({
    DATABASE_URL: db.url,
    NODE_ENV: "production", // introspection for admins only
    MAX_BODY_SIZE: "64kb",
    MAX_QUERY_DEPTH: "6",
    MAX_QUERY_ALIASES: "3",
    MAX_QUERY_TOKENS: "300",
    MAX_SUBSCRIPTIONS_PER_CONNECTION: "2",
    MAX_WS_MESSAGE_SIZE: "8kb",
    METRICS_TOKEN: "metrics-token-for-the-test-0123456789",
  });
  alice = await server.token("alice");
  admin = await server.token("root", { admin: true });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const post = (body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  fetch(server.url, { method: "POST", headers, body });

describe("probes", () => {
  it("answers /healthz and /readyz", async () => {
    const health = await fetch(`${server.base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${server.base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { database: "up" } });
  });

  it("serves Prometheus metrics with HTTP, GraphQL, WebSocket and pool figures", async () => {
    await request(server.url, MeDocument, {}, alice);
    const text = await (await fetch(`${server.base}/metrics`, { headers: { authorization: "Bearer metrics-token-for-the-test-0123456789" } })).text();
    for (const name of [
      "dg_process_cpu_user_seconds_total",
      "dg_http_requests_total",
      "dg_http_request_duration_seconds_bucket",
      "dg_graphql_operations_total",
      "dg_graphql_operation_duration_seconds_bucket",
      "dg_ws_connections",
      "dg_db_pool_size",
      "dg_db_pool_in_use",
      "dg_db_pool_waiting",
    ]) {
      expect(text, name).toContain(name);
    }
    expect(text).toMatch(/dg_db_pool_size\{[^}]*\} 50/);
    expect(text).toMatch(/dg_graphql_operations_total\{[^}]*name="Me"[^}]*outcome="ok"/);
  });

  it("answers unknown paths with a JSON 404", async () => {
    const res = await fetch(`${server.base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: "NOT_FOUND" } }] });
  });
});

describe("authentication", () => {
  it("answers me over HTTP with the token's user", async () => {
    const res = await request(server.url, MeDocument, {}, alice);
    expect(res.errors).toBeUndefined();
    expect(res.data?.me).toEqual({ id: "alice", role: "USER" });
    const adm = await request(server.url, MeDocument, {}, admin);
    expect(adm.data?.me).toEqual({ id: "root", role: "ADMIN" });
  });

  it("refuses a missing, malformed, expired or foreign token with UNAUTHENTICATED", async () => {
    expect(codeOf(await request(server.url, MeDocument, {}))).toBe("UNAUTHENTICATED");
    const expired = await server.token("alice", { expiresIn: -60 });
    for (const token of [expired, "not-a-jwt", `${alice.slice(0, -4)}AAAA`]) {
      const res = await request(server.url, MeDocument, {}, token);
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe("UNAUTHENTICATED");
      expect(res.data ?? null).toBeNull();
    }
  });

  it("answers me over WebSocket and refuses a bad token at connect with 4403", async () => {
    const ws = await TestWsClient.connect(server.wsUrl, alice);
    ws.subscribe("1", MeDocument);
    expect(await ws.waitForMessage()).toEqual({ type: "next", id: "1", payload: { data: { me: { id: "alice", role: "USER" } } } });
    expect(await ws.waitForMessage()).toEqual({ type: "complete", id: "1" });
    ws.close();

    for (const token of ["garbage", null]) {
      const bad = await TestWsClient.open(server.wsUrl);
      bad.send({ type: "connection_init", payload: token ? { authorization: `Bearer ${token}` } : {} });
      expect((await bad.waitForClose()).code).toBe(CloseCode.Forbidden);
    }
  });
});

describe("malformed requests answer { errors } without a stack trace", () => {
  it.each([
    ["malformed JSON", () => post("{ not json"), 400],
    ["a non-JSON content type", () => post("query { me { id } }", { "content-type": "text/plain" }), 415],
    ["an oversized body", () => post(JSON.stringify({ query: `{ me { id } }`, variables: { pad: "x".repeat(100_000) } })), 413],
  ])("%s", async (_name, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    const body = (await res.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe("BAD_USER_INPUT");
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it("answers a syntax error as BAD_USER_INPUT", async () => {
    const res = await request(server.url, "{ me { id ", {}, alice);
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
  });
});

describe("query limits, the same on both transports", () => {
  // Depth and cost rules are table-tested in test/unit/graphql/limits.test.ts; here the wiring
  // on each transport is proven with the limits a small schema can exceed.
  const cases: Array<[string, string, RegExp]> = [
    ["too many aliases", `{ a: me { id } b: me { id } c: me { id } d: me { id } e: me { id } }`, /alias/i],
    ["too many tokens", `{ me { ${"id ".repeat(400)} } }`, /token/i],
  ];

  it.each(cases)("refuses %s over HTTP", async (_name, query, message) => {
    const res = await request(server.url, query, {}, alice);
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0]!.message).toMatch(message);
  });

  it.each(cases)("refuses %s over WebSocket", async (_name, query, message) => {
    const ws = await TestWsClient.connect(server.wsUrl, alice);
    ws.subscribe("1", query);
    const msg = (await ws.waitForMessage()) as { type: string; payload: Array<{ message: string; extensions: { code: string } }> };
    expect(msg.type).toBe("error");
    expect(msg.payload[0]!.extensions.code).toBe("BAD_USER_INPUT");
    expect(msg.payload[0]!.message).toMatch(message);
    ws.close();
  });

  it("caps subscriptions per WebSocket (MAX_SUBSCRIPTIONS_PER_CONNECTION=2)", async () => {
    const ws = await TestWsClient.connect(server.wsUrl, alice);
    for (const id of ["s1", "s2", "s3"]) ws.subscribe(id, `subscription { myScans { scanId } }`);
    const msg = (await ws.waitForMessage()) as { type: string; id: string; payload: Array<{ extensions: { code: string; reason: string } }> };
    expect(msg).toMatchObject({ type: "error", id: "s3" });
    expect(msg.payload[0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", reason: "TOO_MANY_SUBSCRIPTIONS" });
    // Completing one frees its slot: s4 takes it, so the cap (2: s2 and s4) refuses s5, and the
    // first answer after these three messages is s5's refusal, not one for s4.
    ws.send({ type: "complete", id: "s1" });
    ws.subscribe("s4", `subscription { myScans { scanId } }`);
    ws.subscribe("s5", `subscription { myScans { scanId } }`);
    const after = (await ws.waitForMessage()) as typeof msg;
    expect(after).toMatchObject({ type: "error", id: "s5" });
    expect(after.payload[0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", reason: "TOO_MANY_SUBSCRIPTIONS" });
    ws.close();
  });

  it("caps operations per WebSocket and closes oversized messages with 1009", async () => {
    const ws = await TestWsClient.connect(server.wsUrl, alice);
    ws.send({ type: "subscribe", id: "big", payload: { query: `{ me { id } }`, variables: { pad: "x".repeat(20_000) } } });
    expect((await ws.waitForClose()).code).toBe(CloseCode.MessageTooBig);
  });

  it("in production, no error on either transport carries a suggestion, a stack or internals (issue 12)", async () => {
    const typo = `{ sesions { id } }`;
    const http = await request(server.url, typo, {}, alice);
    const ws = await TestWsClient.connect(server.wsUrl, alice);
    ws.subscribe("1", typo);
    const wsMsg = (await ws.waitForMessage()) as { type: string; payload: Array<{ message: string; extensions: { code: string } }> };
    ws.subscribe("2", `subscription { myScan { scanId } }`);
    const wsSub = (await ws.waitForMessage()) as typeof wsMsg;
    ws.subscribe("3", `subscription { scanProgress(scanId: "not-a-uuid") { scanId } }`);
    const notFound = (await ws.waitForMessage()) as typeof wsMsg;
    ws.close();
    expect(codeOf(http)).toBe("BAD_USER_INPUT");
    expect(wsMsg).toMatchObject({ type: "error", payload: [{ extensions: { code: "BAD_USER_INPUT" } }] });
    expect(wsSub).toMatchObject({ type: "error", payload: [{ extensions: { code: "BAD_USER_INPUT" } }] });
    // A refusal from the subscription's own resolver arrives as a result with errors (graphql-js).
    expect(notFound).toMatchObject({ type: "next", payload: { errors: [{ extensions: { code: "NOT_FOUND" } }] } });
    for (const body of [http, wsMsg, wsSub, notFound]) {
      const text = JSON.stringify(body);
      expect(text).not.toMatch(/Did you mean|stack|\.ts:|node_modules|prisma|Error:/i);
    }
  });
});

describe("introspection", () => {
  it("is refused to users and allowed to admins in production, on both transports", async () => {
    const q = `{ __schema { queryType { name } } }`;
    const user = await request(server.url, q, {}, alice);
    expect(codeOf(user)).toBe("FORBIDDEN");
    const adm = await request<{ __schema: { queryType: { name: string } } }, Record<string, never>>(server.url, q, {}, admin);
    expect(adm.data?.__schema.queryType.name).toBe("Query");

    const ws = await TestWsClient.connect(server.wsUrl, alice);
    ws.subscribe("1", q);
    const msg = (await ws.waitForMessage()) as { type: string; payload: Array<{ extensions: { code: string } }> };
    expect(msg.type).toBe("error");
    expect(msg.payload[0]!.extensions.code).toBe("FORBIDDEN");
    ws.close();
  });

  it("serves exactly the schema in schema.graphql", async () => {
    const res = await request<IntrospectionQuery, Record<string, never>>(server.url, getIntrospectionQuery({ descriptions: true }), {}, admin);
    expect(res.errors).toBeUndefined();
    const served = printSchema(lexicographicSortSchema(buildClientSchema(res.data!)));
    const file = printSchema(lexicographicSortSchema(buildSchema(await readFile("schema.graphql", "utf8"))));
    expect(served).toBe(file);
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM closes WebSockets with 1001, stops, and exits 0", async () => {
    // Its own database: a second server with its own generated ENCRYPTION_KEY must not share one.
    const ownDb = await createTestDatabase();
    const own = await startServerProcess({ DATABASE_URL: ownDb.url, SHUTDOWN_GRACE: "2s" });
    const ws = await TestWsClient.connect(own.wsUrl, await own.token("alice"));
    const closed = ws.waitForClose(15_000);
    const code = await own.stop("SIGTERM");
    expect((await closed).code).toBe(CloseCode.GoingAway);
    expect(code).toBe(0);
    expect(own.output.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    await ownDb.drop();
  }, 60_000);
});
