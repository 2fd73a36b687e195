import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CloseSessionDocument,
  DatabaseConnectionsDocument,
  DeleteDatabaseConnectionDocument,
  GetSessionDocument,
  OpenSessionDocument,
  PaymentsDocument,
  RecordPaymentDocument,
  SaveDatabaseConnectionDocument,
  SessionManagerStatsDocument,
  SessionsDocument,
  TestDatabaseConnectionDocument,
  type DatabaseConnectionInput,
  type PaymentInput,
} from "../generated/graphql.js";
import { adminUrl, createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

let db: TestDatabase;
let server: ServerProcess;
let dataDir: string;
let sql: pg.Client;
let alice: string;
let bob: string;
let admin: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "dg-sessions-e2e-"));
  server = await startServerProcess({
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    ENCRYPTION_KEY: `k1:${randomBytes(32).toString("base64")}`,
    MAX_SESSIONS_PER_USER: "5",
  });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  alice = await server.token("alice");
  bob = await server.token("bob");
  admin = await server.token("root", { admin: true });
}, 90_000);

afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const open = async (token: string, name?: string) => {
  const res = await request(server.url, OpenSessionDocument, { input: name === undefined ? null : { name } }, token);
  expect(res.errors).toBeUndefined();
  return res.data!.openSession;
};
const conn = (sessionId: string, over: Partial<DatabaseConnectionInput> = {}): DatabaseConnectionInput => ({
  sessionId, name: "crm", engine: "POSTGRESQL", host: "db.example.com", port: 5432, database: "crm", user: "reader", password: "pw-1", ssl: false, ...over,
});
const pay = (sessionId: string, over: Partial<PaymentInput> = {}): PaymentInput => ({
  sessionId, provider: "mollie", reference: "tr_WDqYK6vllg", amountCents: 1999, currency: "EUR", status: "PAID", description: "Pro plan", ...over,
});

/** Everything a user can read, for "B acted, A unchanged" comparisons. */
async function snapshot(token: string) {
  const sessions = (await request(server.url, SessionsDocument, {}, token)).data!.sessions;
  const out: Record<string, unknown> = {};
  for (const s of sessions) {
    out[s.id] = {
      name: s.name,
      createdAt: s.createdAt,
      connections: (await request(server.url, DatabaseConnectionsDocument, { sessionId: s.id }, token)).data!.databaseConnections,
      payments: (await request(server.url, PaymentsDocument, { sessionId: s.id }, token)).data!.payments,
    };
  }
  return out;
}

describe("sessions", () => {
  it("opens, reads, lists and closes a session (everything in it goes)", async () => {
    const s = await open(alice, "  Q3 audit  ");
    expect(s.name).toBe("Q3 audit");
    expect(new Date(s.expiresAt).getTime() - new Date(s.lastActiveAt).getTime()).toBe(86_400_000);
    expect((await request(server.url, GetSessionDocument, { id: s.id }, alice)).data!.session).toEqual(s);
    expect((await request(server.url, SessionsDocument, {}, alice)).data!.sessions.map((x) => x.id)).toContain(s.id);
    await request(server.url, SaveDatabaseConnectionDocument, { input: conn(s.id) }, alice);
    await request(server.url, RecordPaymentDocument, { input: pay(s.id) }, alice);

    const closed = await request(server.url, CloseSessionDocument, { id: s.id }, alice);
    expect(closed.data).toEqual({ closeSession: true });
    expect((await request(server.url, GetSessionDocument, { id: s.id }, alice)).data!.session).toBeNull();
    expect(codeOf(await request(server.url, CloseSessionDocument, { id: s.id }, alice))).toBe("NOT_FOUND");
    const left = await sql.query(
      `select (select count(*) from "DatabaseConnection" where "sessionId" = $1)::int c, (select count(*) from "PaymentRecord" where "sessionId" = $1)::int p`,
      [s.id],
    );
    expect(left.rows[0]).toEqual({ c: 0, p: 0 });
  });

  it("opens a session without input and validates names", async () => {
    expect((await open(alice)).name).toBeNull();
    for (const name of ["x".repeat(201), "tab\there", "bell\u0007", "rtl\u202Eoverride"]) {
      const res = await request(server.url, OpenSessionDocument, { input: { name } }, alice);
      expect(codeOf(res), JSON.stringify(name)).toBe("BAD_USER_INPUT");
      expect(res.errors![0]!.extensions!.field).toBe("name");
    }
  });

  it("caps live sessions per user with BAD_USER_INPUT naming the limit", async () => {
    const carol = await server.token("carol");
    for (let i = 0; i < 5; i++) await open(carol, `s${i}`);
    const res = await request(server.url, OpenSessionDocument, { input: { name: "one too many" } }, carol);
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0]!.message).toContain("5");
    // A concurrent burst cannot overshoot the cap either.
    const dave = await server.token("dave");
    const burst = await Promise.all(Array.from({ length: 12 }, () => request(server.url, OpenSessionDocument, {}, dave)));
    expect(burst.filter((r) => !r.errors).length).toBe(5);
  });

  it("refuses anonymous callers", async () => {
    expect(codeOf(await request(server.url, SessionsDocument, {}))).toBe("UNAUTHENTICATED");
  });
});

describe("isolation: acts on A, leaves B unaffected", () => {
  it("answers B's reads, writes and deletes of A's ids exactly like unknown ids, and A's data stays as it was", async () => {
    const a = await open(alice, "alice-private");
    const aConn = (await request(server.url, SaveDatabaseConnectionDocument, { input: conn(a.id, { name: "alice-db" }) }, alice)).data!
      .saveDatabaseConnection;
    await request(server.url, RecordPaymentDocument, { input: pay(a.id, { reference: "alice-ref" }) }, alice);
    const before = await snapshot(alice);
    const unknown = randomUUID();

    for (const id of [a.id, unknown, "not-a-uuid"]) {
      expect((await request(server.url, GetSessionDocument, { id }, bob)).data).toEqual({ session: null });
      expect(codeOf(await request(server.url, CloseSessionDocument, { id }, bob))).toBe("NOT_FOUND");
      expect(codeOf(await request(server.url, DatabaseConnectionsDocument, { sessionId: id }, bob))).toBe("NOT_FOUND");
      expect(codeOf(await request(server.url, PaymentsDocument, { sessionId: id }, bob))).toBe("NOT_FOUND");
      const save = await request(server.url, SaveDatabaseConnectionDocument, { input: conn(id) }, bob);
      expect(codeOf(save)).toBe("NOT_FOUND");
      expect(save.errors![0]!.extensions!.field).toBe("sessionId");
      expect(codeOf(await request(server.url, RecordPaymentDocument, { input: pay(id) }, bob))).toBe("NOT_FOUND");
    }
    for (const id of [aConn.id, unknown]) {
      expect(codeOf(await request(server.url, DeleteDatabaseConnectionDocument, { id }, bob))).toBe("NOT_FOUND");
      expect(codeOf(await request(server.url, TestDatabaseConnectionDocument, { id }, bob))).toBe("NOT_FOUND");
    }
    // Same message for foreign and unknown: existence is not revealed.
    const foreign = await request(server.url, CloseSessionDocument, { id: a.id }, bob);
    const missing = await request(server.url, CloseSessionDocument, { id: unknown }, bob);
    expect(foreign.errors![0]!.message).toBe(missing.errors![0]!.message);

    const bobSessions = (await request(server.url, SessionsDocument, {}, bob)).data!.sessions;
    expect(JSON.stringify(bobSessions)).not.toContain("alice");
    expect(await snapshot(alice)).toEqual(before);
  });
});

describe("database connections", () => {
  it("saves and lists a connection without ever returning the password", async () => {
    const s = await open(alice);
    const password = `pw-${randomBytes(8).toString("hex")}`;
    const res = await request(server.url, SaveDatabaseConnectionDocument, { input: conn(s.id, { password, ssl: true }) }, alice);
    expect(res.errors).toBeUndefined();
    expect(res.data!.saveDatabaseConnection).toMatchObject({ name: "crm", engine: "POSTGRESQL", host: "db.example.com", port: 5432, ssl: true });
    const list = await request(server.url, DatabaseConnectionsDocument, { sessionId: s.id }, alice);
    expect(list.data!.databaseConnections).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(password);
    const stored = await sql.query(`select "passwordCiphertext", "keyId" from "DatabaseConnection" where id = $1`, [res.data!.saveDatabaseConnection.id]);
    expect((stored.rows[0].passwordCiphertext as Buffer).includes(Buffer.from(password))).toBe(false);
    expect(stored.rows[0].keyId).toBe("k1");
    expect(server.output.join("\n")).not.toContain(password);
  });

  it.each<[string, Partial<DatabaseConnectionInput>]>([
    ["name", { name: "" }],
    ["name", { name: "n".repeat(101) }],
    ["host", { host: "bad host" }],
    ["host", { host: "127.1" }],
    ["host", { host: "http://db.example.com" }],
    ["port", { port: 0 }],
    ["port", { port: 65_536 }],
    ["database", { database: "d".repeat(64) }],
    ["user", { user: "u".repeat(64) }],
    ["user", { user: "null\u0000byte" }],
    ["password", { password: "p".repeat(1025) }],
  ])("refuses a bad %s with BAD_USER_INPUT naming the field", async (field, over) => {
    const s = await open(bob);
    const res = await request(server.url, SaveDatabaseConnectionDocument, { input: conn(s.id, over) }, bob);
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0]!.extensions!.field).toBe(field);
    await request(server.url, CloseSessionDocument, { id: s.id }, bob);
  });

  it("deletes a connection; a second delete is NOT_FOUND", async () => {
    const s = await open(alice);
    const c = (await request(server.url, SaveDatabaseConnectionDocument, { input: conn(s.id) }, alice)).data!.saveDatabaseConnection;
    expect((await request(server.url, DeleteDatabaseConnectionDocument, { id: c.id }, alice)).data).toEqual({ deleteDatabaseConnection: true });
    expect(codeOf(await request(server.url, DeleteDatabaseConnectionDocument, { id: c.id }, alice))).toBe("NOT_FOUND");
    await request(server.url, CloseSessionDocument, { id: s.id }, alice);
  });

  it("tests a connection for real: ok against a live server, a clear code otherwise", async () => {
    const target = new URL(adminUrl());
    const s = await open(alice);
    const save = async (over: Partial<DatabaseConnectionInput>) =>
      (await request(server.url, SaveDatabaseConnectionDocument, { input: conn(s.id, over) }, alice)).data!.saveDatabaseConnection.id;
    const real = { host: target.hostname, port: Number(target.port || 5432), user: decodeURIComponent(target.username), database: "postgres" };
    const good = await save({ ...real, password: decodeURIComponent(target.password) });
    const wrong = await save({ ...real, password: "definitely-wrong" });
    const metadata = await save({ host: "169.254.169.254", port: 5432 });

    const ok = (await request(server.url, TestDatabaseConnectionDocument, { id: good }, alice)).data!.testDatabaseConnection;
    expect(ok).toMatchObject({ ok: true, code: null });
    expect(ok.serverVersion).toMatch(/\d+/);
    const bad = (await request(server.url, TestDatabaseConnectionDocument, { id: wrong }, alice)).data!.testDatabaseConnection;
    expect(bad).toMatchObject({ ok: false, code: "AUTHENTICATION_FAILED" });
    expect(bad.message).not.toContain("definitely-wrong");
    const ssrf = (await request(server.url, TestDatabaseConnectionDocument, { id: metadata }, alice)).data!.testDatabaseConnection;
    expect(ssrf).toMatchObject({ ok: false, code: "HOST_NOT_ALLOWED" });
  });
});

describe("payments", () => {
  it("records and lists a payment, normalising currency and status", async () => {
    const s = await open(alice);
    const res = await request(server.url, RecordPaymentDocument, { input: pay(s.id, { currency: "eur", status: "authorized" }) }, alice);
    expect(res.errors).toBeUndefined();
    expect(res.data!.recordPayment).toMatchObject({ currency: "EUR", status: "AUTHORIZED", amountCents: 1999 });
    expect((await request(server.url, PaymentsDocument, { sessionId: s.id }, alice)).data!.payments).toEqual([res.data!.recordPayment]);
  });

  it.each<[string, Partial<PaymentInput>]>([
    ["amountCents", { amountCents: 0 }],
    ["amountCents", { amountCents: -100 }],
    ["currency", { currency: "XYZ" }],
    ["currency", { currency: "EURO" }],
    ["status", { status: "DONE" }],
    ["provider", { provider: " " }],
    ["provider", { provider: "p".repeat(65) }],
    ["reference", { reference: "r".repeat(129) }],
    ["description", { description: "d".repeat(501) }],
  ])("refuses a bad %s with BAD_USER_INPUT naming the field", async (field, over) => {
    const s = await open(bob);
    const res = await request(server.url, RecordPaymentDocument, { input: pay(s.id, over) }, bob);
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0]!.extensions!.field).toBe(field);
    await request(server.url, CloseSessionDocument, { id: s.id }, bob);
  });

  it.each<[string, Partial<PaymentInput>]>([
    ["reference", { reference: "4111111111111111" }],
    ["reference", { reference: "4111 1111 1111 1111" }],
    ["reference", { reference: "4111-1111-1111-1111" }],
    ["description", { description: "paid with card 5500 0000 0000 0004, thanks" }],
    ["description", { description: "amex 3782-822463-10005 ok" }],
    ["provider", { provider: "stripe 4242424242424242" }],
    ["reference", { reference: "order 12 4111 1111 1111 1111" }],
  ])("refuses a card number in %s", async (field, over) => {
    const s = await open(bob);
    const res = await request(server.url, RecordPaymentDocument, { input: pay(s.id, over) }, bob);
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0]!.extensions!.field).toBe(field);
    expect(JSON.stringify(res)).not.toMatch(/4111|5500|3782|4242/);
    const stored = await sql.query(`select count(*)::int n from "PaymentRecord" where "sessionId" = $1`, [s.id]);
    expect(stored.rows[0].n).toBe(0);
    await request(server.url, CloseSessionDocument, { id: s.id }, bob);
  });

  it("accepts digits that are not a Luhn-valid card number", async () => {
    const s = await open(bob);
    for (const reference of ["4111 1111 1111 1112", "INV-2024-000123", "1234567890123456789012345"]) {
      const res = await request(server.url, RecordPaymentDocument, { input: pay(s.id, { reference }) }, bob);
      expect(res.errors, reference).toBeUndefined();
    }
    await request(server.url, CloseSessionDocument, { id: s.id }, bob);
  });
});

describe("admin debug view and metrics", () => {
  it("is ADMIN only", async () => {
    expect(codeOf(await request(server.url, SessionManagerStatsDocument, {}, alice))).toBe("FORBIDDEN");
    const res = await request(server.url, SessionManagerStatsDocument, {}, admin);
    expect(res.errors).toBeUndefined();
    const stats = res.data!.sessionManagerStats;
    expect(stats.sessions).toBeGreaterThan(0);
    expect(stats.rowsHeld.sessions).toBeGreaterThanOrEqual(stats.sessions);
    expect(stats.rowsHeld.connections).toBeGreaterThan(0);
    expect(stats.activeUsers).toBeGreaterThanOrEqual(0);
    expect(stats.sessionTtlMs).toBe(86_400_000);
    expect(stats.oldestSessionCreatedAt).not.toBeNull();
  });

  it("exports the cleanup counters on /metrics", async () => {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    expect(text).toMatch(/dg_sessions_expired_total\{[^}]*\} 0/);
    expect(text).toMatch(/dg_cleanup_rows_deleted_total\{[^}]*kind="findings"[^}]*\} 0/);
  });
});
