/**
 * Issue 12, points 1 and 2, from outside: a server in production mode, over HTTP. Where
 * database scans and connection tests may go (public addresses only, never the server's own
 * database even when its host is allowed), the answer a user gets when refused, and the
 * per-user rate limit.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

let db: TestDatabase;
let prod: ServerProcess; // production defaults: public addresses only
let listed: ServerProcess; // production, the operator allows loopback
beforeAll(async () => {
  db = await createTestDatabase();
  const common = { DATABASE_URL: db.url, NODE_ENV: "production", ENCRYPTION_KEY: `k1:${randomBytes(32).toString("base64")}`, DATABASE_TEST_RATE_LIMIT: "4/1m", DATABASE_SCAN_CONNECT_TIMEOUT: "500ms" };
  [prod, listed] = await Promise.all([
    startServerProcess(common),
    startServerProcess({ ...common, DATABASE_SCAN_ALLOWED_HOSTS: "127.0.0.0/8,::1,localhost" }),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.all([prod?.stop(), listed?.stop()]);
  await db?.drop();
});

type Conn = { host: string; port: number; database: string };
async function saveConnection(server: ServerProcess, user: string, conn: Conn): Promise<{ token: string; sessionId: string; id: string }> {
  const token = await server.token(user);
  const session = await request<{ openSession: { id: string } }, Record<string, unknown>>(server.url, `mutation { openSession { id } }`, {}, token);
  const sessionId = session.data!.openSession.id;
  const saved = await request<{ saveDatabaseConnection: { id: string } }, Record<string, unknown>>(
    server.url,
    `mutation ($input: DatabaseConnectionInput!) { saveDatabaseConnection(input: $input) { id } }`,
    { input: { sessionId, name: "t", engine: "POSTGRESQL", user: "postgres", password: "pw", ...conn } },
    token,
  );
  expect(saved.errors).toBeUndefined();
  return { token, sessionId, id: saved.data!.saveDatabaseConnection.id };
}
const testConnection = (server: ServerProcess, token: string, id: string) =>
  request<{ testDatabaseConnection: { ok: boolean; code: string | null; message: string | null } }, Record<string, unknown>>(
    server.url,
    `mutation ($id: ID!) { testDatabaseConnection(id: $id) { ok code message } }`,
    { id },
    token,
  );
const startScan = (server: ServerProcess, token: string, sessionId: string, connectionId: string) =>
  request<{ startDatabaseScan: { id: string } }, Record<string, unknown>>(
    server.url,
    `mutation ($input: DatabaseScanInput!) { startDatabaseScan(input: $input) { id } }`,
    { input: { sessionId, connectionId } },
    token,
  );

const ownDb = (): Conn => {
  const u = new URL(db.url);
  return { host: u.hostname, port: Number(u.port || 5432), database: u.pathname.slice(1) };
};

describe("production host policy", () => {
  it.each<[string, Conn, RegExp]>([
    ["loopback", { host: "127.0.0.1", port: 5432, database: "crm" }, /it is a loopback address\. If this database should be scanned, ask your operator/],
    ["IPv4-mapped loopback", { host: "::ffff:127.0.0.1", port: 5432, database: "crm" }, /it is a loopback address/],
    ["localhost (a name: nothing said of what it resolves to)", { host: "localhost", port: 5432, database: "crm" }, /^Database scans may not connect to localhost\. If this database should be scanned, ask your operator/],
    ["a private address", { host: "192.168.1.10", port: 5432, database: "crm" }, /private address/],
    ["CGNAT", { host: "100.64.0.1", port: 5432, database: "crm" }, /carrier-grade NAT/],
    ["cloud metadata", { host: "169.254.169.254", port: 80, database: "crm" }, /cloud metadata address, which is never scanned\.$/],
    ["Alibaba metadata", { host: "100.100.100.200", port: 80, database: "crm" }, /cloud metadata/],
    ["AWS metadata over IPv6", { host: "fd00:ec2::254", port: 80, database: "crm" }, /cloud metadata/],
    ["NAT64 of a private address", { host: "64:ff9b::a00:1", port: 5432, database: "crm" }, /IPv6 address carrying a private address/],
  ])("%s: the connection test answers HOST_NOT_ALLOWED and a scan start BAD_USER_INPUT, with what to ask", async (_name, conn, message) => {
    const user = `u-${randomBytes(4).toString("hex")}`;
    const { token, sessionId, id } = await saveConnection(prod, user, conn);
    const tested = await testConnection(prod, token, id);
    expect(tested.data!.testDatabaseConnection).toMatchObject({ ok: false, code: "HOST_NOT_ALLOWED", message: expect.stringMatching(message) });
    const started = await startScan(prod, token, sessionId, id);
    expect(codeOf(started)).toBe("BAD_USER_INPUT");
    expect(started.errors![0]!.message).toMatch(message);
    expect(started.errors![0]!.extensions).toMatchObject({ field: "connectionId" });
  });

  it("the server's own database is refused even when the operator allows its host; another database there is not", async () => {
    const own = await saveConnection(listed, "olga", ownDb());
    const tested = await testConnection(listed, own.token, own.id);
    expect(tested.data!.testDatabaseConnection).toMatchObject({
      ok: false,
      code: "HOST_NOT_ALLOWED",
      message: `Database scans may not connect to ${ownDb().host}: it is the server's own database, which is never scanned.`,
    });
    expect(codeOf(await startScan(listed, own.token, own.sessionId, own.id))).toBe("BAD_USER_INPUT");
    const other = await saveConnection(listed, "olga2", { ...ownDb(), database: "postgres" });
    const started = await startScan(listed, other.token, other.sessionId, other.id);
    expect(started.errors).toBeUndefined();
  });
});

describe("no oracle", () => {
  it("connection tests and scan starts share a per-user limit; past it CAPACITY_EXCEEDED with a retry hint; another user is unaffected", async () => {
    const { token, sessionId, id } = await saveConnection(listed, "mallory", { host: "127.0.0.1", port: 1, database: "crm" });
    for (let i = 0; i < 3; i++) {
      const r = await testConnection(listed, token, id);
      expect(r.data!.testDatabaseConnection).toMatchObject({ ok: false, code: "CONNECTION_FAILED" });
    }
    expect((await startScan(listed, token, sessionId, id)).errors).toBeUndefined(); // the 4th attempt
    for (const refused of [await testConnection(listed, token, id), await startScan(listed, token, sessionId, id)]) {
      expect(codeOf(refused)).toBe("CAPACITY_EXCEEDED");
      expect(refused.errors![0]!.extensions).toMatchObject({ reason: "RATE_LIMITED", retryAfterSeconds: expect.any(Number) });
    }
    const other = await saveConnection(listed, "trent", { host: "127.0.0.1", port: 1, database: "crm" });
    expect((await testConnection(listed, other.token, other.id)).data!.testDatabaseConnection).toMatchObject({ code: "CONNECTION_FAILED" });
  });
});
