import "reflect-metadata";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionRepo } from "../../../src/modules/connections/connection.repo.js";
import { ConnectionService } from "../../../src/modules/connections/connection.service.js";
import { DatabaseEngine } from "../../../src/modules/connections/connection.type.js";
import type { DatabaseConnectionInput } from "../../../src/modules/connections/connection.input.js";
import { PaymentRepo } from "../../../src/modules/payments/payment.repo.js";
import { PaymentService } from "../../../src/modules/payments/payment.service.js";
import type { PaymentInput } from "../../../src/modules/payments/payment.input.js";
import { SessionRepo } from "../../../src/modules/sessions/session.repo.js";
import { SessionService } from "../../../src/modules/sessions/session.service.js";
import { DEFAULT_SESSION_ROW_CAPS } from "../../../src/modules/sessions/session-limits.js";
import { ActivityTracker } from "../../../src/modules/viewer/activity.service.js";
import { parseAllowedHosts } from "../../../src/platform/net/host-policy.js";
import { parseEncryptionKeys } from "../../../src/platform/crypto/secret-box.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";

/** Issue 12, point 8: caps on rows per session, on field lengths, and pages of the two lists. */

let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let sessions: SessionService;
let payments: PaymentService;
let connections: ConnectionService;

const CAPS = { payments: 5, connections: 3 };

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.url, max: 10, log: silentLogger });
  prisma = createPrisma(pool);
  const activity = new ActivityTracker(prisma, silentLogger, { sessionTtlMs: 3_600_000 });
  sessions = new SessionService(new SessionRepo(prisma), activity, { sessionTtlMs: 3_600_000, rowCaps: CAPS });
  payments = new PaymentService(new PaymentRepo(prisma), sessions, silentLogger);
  const keyring = parseEncryptionKeys(`k1:${randomBytes(32).toString("base64")}`);
  connections = new ConnectionService(new ConnectionRepo(prisma), sessions, keyring, silentLogger, { hostPolicy: parseAllowedHosts(undefined) });
  await prisma.user.createMany({ data: [{ id: "alice" }, { id: "bob" }] });
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});

const pay = (sessionId: string, i = 0): PaymentInput => ({
  sessionId, provider: "mollie", reference: `tr_${i}`, amountCents: 100 + i, currency: "EUR", status: "PAID", description: null,
});
const conn = (sessionId: string, over: Partial<DatabaseConnectionInput> = {}): DatabaseConnectionInput => ({
  sessionId, name: "crm", engine: DatabaseEngine.POSTGRESQL, host: "db.example.com", port: 5432, database: "crm", user: "reader", password: "pw", ssl: false, ...over,
});
const errorOf = async (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as { code?: string; message: string; extensions: Record<string, unknown> });

describe("caps per session", () => {
  it("has sensible defaults: 200 payments, 20 connections", () => {
    expect(DEFAULT_SESSION_ROW_CAPS).toEqual({ payments: 200, connections: 20 });
  });

  it("refuses the payment past the cap with BAD_USER_INPUT and a sentence; another session still has room", async () => {
    const s = await sessions.open("alice", { name: "p" });
    for (let i = 0; i < CAPS.payments; i++) await payments.record("alice", pay(s.id, i));
    const error = await errorOf(payments.record("alice", pay(s.id, 99)));
    expect(error?.code).toBe("BAD_USER_INPUT");
    expect(error?.message).toBe(
      "This session already holds the maximum of 5 payment records; record further payments in another session (limit MAX_PAYMENTS_PER_SESSION)",
    );
    expect(error?.extensions).toMatchObject({ field: "sessionId", limit: 5 });
    expect(await prisma.paymentRecord.count({ where: { sessionId: s.id } })).toBe(CAPS.payments);
    const other = await sessions.open("alice", { name: "q" });
    await expect(payments.record("alice", pay(other.id))).resolves.toMatchObject({ sessionId: other.id });
  });

  it("holds under concurrency: 20 racing payments into an empty session leave at most the cap", async () => {
    const s = await sessions.open("alice", { name: "race" });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => payments.record("alice", pay(s.id, i))));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    // Inserts into one session queue on its lock: exactly the cap gets in, the rest are told why.
    expect(ok).toBe(CAPS.payments);
    for (const r of results) if (r.status === "rejected") expect((r.reason as { code: string }).code).toBe("BAD_USER_INPUT");
    expect(await prisma.paymentRecord.count({ where: { sessionId: s.id } })).toBe(ok);
  });

  it("refuses the connection past the cap, naming MAX_CONNECTIONS_PER_SESSION", async () => {
    const s = await sessions.open("bob", { name: "c" });
    for (let i = 0; i < CAPS.connections; i++) await connections.save("bob", conn(s.id, { name: `db ${i}` }));
    const error = await errorOf(connections.save("bob", conn(s.id)));
    expect(error?.code).toBe("BAD_USER_INPUT");
    expect(error?.message).toMatch(/maximum of 3 database connections.*MAX_CONNECTIONS_PER_SESSION/);
    expect(await prisma.databaseConnection.count({ where: { sessionId: s.id } })).toBe(CAPS.connections);
    const racing = await sessions.open("bob", { name: "c2" });
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => connections.save("bob", conn(racing.id, { name: `r${i}` }))));
    expect(await prisma.databaseConnection.count({ where: { sessionId: racing.id } })).toBe(results.filter((r) => r.status === "fulfilled").length);
    expect(await prisma.databaseConnection.count({ where: { sessionId: racing.id } })).toBe(CAPS.connections);
  });

  it("caps the password at 256 characters, naming the field", async () => {
    const s = await sessions.open("bob", { name: "pw" });
    await expect(connections.save("bob", conn(s.id, { password: "p".repeat(256) }))).resolves.toMatchObject({ sessionId: s.id });
    const error = await errorOf(connections.save("bob", conn(s.id, { password: "p".repeat(257) })));
    expect(error?.code).toBe("BAD_USER_INPUT");
    expect(error?.extensions).toMatchObject({ field: "password" });
  });
});

describe("pages of payments and databaseConnections", () => {
  it("pages payments oldest first with first/after; the pages join to the whole list", async () => {
    const s = await sessions.open("alice", { name: "pages" });
    for (let i = 0; i < 5; i++) await payments.record("alice", pay(s.id, i));
    const all = await payments.list("alice", s.id);
    expect(all.map((p) => p.reference)).toEqual(["tr_0", "tr_1", "tr_2", "tr_3", "tr_4"]);
    const first = await payments.list("alice", s.id, 2, null);
    const second = await payments.list("alice", s.id, 2, first.at(-1)!.id);
    const third = await payments.list("alice", s.id, 2, second.at(-1)!.id);
    expect([...first, ...second, ...third].map((p) => p.id)).toEqual(all.map((p) => p.id));
    expect(third).toHaveLength(1);
    expect(await payments.list("alice", s.id, 2, third.at(-1)!.id)).toEqual([]);
  });

  it("orders by (createdAt, id): rows of one millisecond are neither lost nor repeated", async () => {
    const s = await sessions.open("alice", { name: "same-ms" });
    const at = new Date();
    await prisma.paymentRecord.createMany({
      data: Array.from({ length: 4 }, (_, i) => ({ ownerId: "alice", sessionId: s.id, provider: "p", reference: `r${i}`, amountCents: 1, currency: "EUR", status: "PAID", createdAt: at })),
    });
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 5; i++) {
      const page = await payments.list("alice", s.id, 1, after);
      if (page.length === 0) break;
      seen.push(page[0]!.id);
      after = page[0]!.id;
    }
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });

  it.each([[0], [501], [-1]])("first %s is BAD_USER_INPUT", async (first) => {
    const s = await sessions.open("alice", { name: `first ${first}` });
    expect((await errorOf(payments.list("alice", s.id, first, null)))?.code).toBe("BAD_USER_INPUT");
    expect((await errorOf(connections.list("alice", s.id, first, null)))?.code).toBe("BAD_USER_INPUT");
    await sessions.close("alice", s.id);
  });

  it("an after that is not an id of this session (garbage, another session's, another user's) is BAD_USER_INPUT", async () => {
    const mine = await sessions.open("alice", { name: "a1" });
    const other = await sessions.open("alice", { name: "a2" });
    const p = await payments.record("alice", pay(other.id));
    const bobs = await sessions.open("bob", { name: "b" });
    const bp = await payments.record("bob", pay(bobs.id));
    for (const after of ["nope", p.id, bp.id]) {
      const error = await errorOf(payments.list("alice", mine.id, 10, after));
      expect(error?.code).toBe("BAD_USER_INPUT");
      expect(error?.extensions).toMatchObject({ field: "after" });
    }
  });

  it("pages database connections the same way", async () => {
    const s = await sessions.open("bob", { name: "cpages" });
    for (let i = 0; i < 3; i++) await connections.save("bob", conn(s.id, { name: `db ${i}` }));
    const all = await connections.list("bob", s.id);
    expect(all).toHaveLength(3);
    const first = await connections.list("bob", s.id, 2, null);
    const rest = await connections.list("bob", s.id, 2, first.at(-1)!.id);
    expect([...first, ...rest].map((c) => c.name)).toEqual(["db 0", "db 1", "db 2"]);
  });
});
