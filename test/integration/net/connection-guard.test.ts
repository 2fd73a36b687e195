import "reflect-metadata";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionRepo } from "../../../src/modules/connections/connection.repo.js";
import { ConnectionService } from "../../../src/modules/connections/connection.service.js";
import { DatabaseEngine } from "../../../src/modules/connections/connection.type.js";
import { SessionRepo } from "../../../src/modules/sessions/session.repo.js";
import { SessionService } from "../../../src/modules/sessions/session.service.js";
import { ActivityTracker } from "../../../src/modules/viewer/activity.service.js";
import { parseEncryptionKeys } from "../../../src/platform/crypto/secret-box.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { hostPolicyFromConfig } from "../../../src/platform/net/host-policy.js";
import { silentLogger, type Logger } from "../../../src/platform/observability/logger.js";
import { AppError } from "../../../src/shared/errors.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";

/**
 * Connection tests and database scan starts (issue 12, points 1 and 2) through the service, on
 * real PostgreSQL: the per-user rate limit, and the host policy's answer at scan start.
 */
let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let sessions: SessionService;
const keyring = parseEncryptionKeys(`k1:${randomBytes(32).toString("base64")}`);

const service = (isProduction: boolean, points = 3, log: Logger = silentLogger) =>
  new ConnectionService(new ConnectionRepo(prisma), sessions, keyring, log, {
    hostPolicy: hostPolicyFromConfig({ isProduction }, db.url),
    connectTimeoutMs: 1_000,
    rateLimit: { points, windowMs: 60_000 },
  });

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.url, max: 5, log: silentLogger });
  prisma = createPrisma(pool);
  sessions = new SessionService(new SessionRepo(prisma), new ActivityTracker(prisma, silentLogger, { sessionTtlMs: 3_600_000 }), { sessionTtlMs: 3_600_000 });
  await prisma.user.createMany({ data: [{ id: "alice" }, { id: "bob" }] });
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});

async function save(svc: ConnectionService, ownerId: string, over: { host?: string; port?: number; database?: string } = {}) {
  const s = await sessions.open(ownerId, { name: "guard" });
  return svc.save(ownerId, {
    sessionId: s.id, name: "target", engine: DatabaseEngine.POSTGRESQL, host: "127.0.0.1", port: 1, database: "crm", user: "reader", password: "pw", ssl: false, ...over,
  });
}

async function caught(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("per-user rate limit on attempts to reach a database", () => {
  it("connection tests and scan starts share one count per user; the next is CAPACITY_EXCEEDED with a retry hint", async () => {
    const svc = service(false, 3);
    const row = await save(svc, "alice");
    expect(await svc.test("alice", row.id)).toMatchObject({ ok: false, code: "CONNECTION_FAILED" });
    expect(await svc.test("alice", row.id)).toMatchObject({ ok: false, code: "CONNECTION_FAILED" });
    await svc.requireScannable("alice", row.id);
    const error = await caught(svc.test("alice", row.id));
    expect(error.extensions).toMatchObject({ code: "CAPACITY_EXCEEDED", reason: "RATE_LIMITED", retryAfterSeconds: expect.any(Number), limit: "DATABASE_TEST_RATE_LIMIT" });
    expect(error.extensions.retryAfterSeconds as number).toBeGreaterThan(0);
    expect(error.extensions.retryAfterSeconds as number).toBeLessThanOrEqual(60);
    // The sentence names no setting (users cannot change one); the name is in extensions.limit.
    expect(error.message).toBe(`Too many connection tests: try again in ${error.extensions.retryAfterSeconds as number} s`);
    expect(error.message).not.toMatch(/\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/);
    expect((await caught(svc.requireScannable("alice", row.id))).extensions.code).toBe("CAPACITY_EXCEEDED");

    // Bob is not affected, and unknown or foreign ids are NOT_FOUND without counting.
    const bobs = await save(svc, "bob");
    expect((await caught(svc.test("bob", row.id))).extensions.code).toBe("NOT_FOUND");
    for (let i = 0; i < 3; i++) expect(await svc.test("bob", bobs.id)).toMatchObject({ ok: false, code: "CONNECTION_FAILED" });
  });
});

describe("host policy at scan start", () => {
  it.each([
    ["a private address", { host: "10.1.2.3", port: 5432 }, /it is a private address .* If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS\.$/],
    ["cloud metadata", { host: "169.254.169.254", port: 80 }, /it is a cloud metadata address, which is never scanned\.$/],
    ["loopback in production, by name", { host: "localhost", port: 5432 }, /^Database scans may not connect to localhost\. If this database should be scanned, ask your operator/],
  ])("production: %s is BAD_USER_INPUT naming the field, with what to ask the operator", async (_name, over, message) => {
    const svc = service(true, 100);
    const row = await save(svc, "alice", over);
    const error = await caught(svc.requireScannable("alice", row.id));
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "connectionId", reason: "HOST_NOT_ALLOWED" });
    expect(error.message).toMatch(message);
    expect(await svc.test("alice", row.id)).toMatchObject({ ok: false, code: "HOST_NOT_ALLOWED", message: expect.stringMatching(message) });
  });

  it("production: a name refused for what it resolves to says nothing of it to the user; the operator's log line does", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const svc = service(true, 100, log as unknown as Logger);
    const row = await save(svc, "alice", { host: "localhost", port: 5432 });
    const error = await caught(svc.requireScannable("alice", row.id));
    const tested = await svc.test("alice", row.id);
    for (const message of [error.message, tested.message!]) {
      expect(message).toBe("Database scans may not connect to localhost. If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS.");
    }
    expect(JSON.stringify({ error: error.extensions, tested })).not.toMatch(/loopback|127\.0\.0\.1|::1|resolve/);
    const details = lines.filter((l) => l.connectionId === row.id && l.detail !== undefined).map((l) => String(l.detail));
    expect(details).toHaveLength(2); // the scan start and the test, one line each
    for (const detail of details) expect(detail).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), a loopback address$/);
  });

  it("development: loopback may be scanned, the server's own database may not", async () => {
    const svc = service(false, 100);
    const own = new URL(db.url);
    const ownRow = await save(svc, "alice", { host: "localhost", port: Number(own.port || 5432), database: own.pathname.slice(1) });
    const error = await caught(svc.requireScannable("alice", ownRow.id));
    expect(error.message).toBe("Database scans may not connect to localhost. If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS.");
    const other = await save(svc, "alice", { host: "127.0.0.1", port: Number(own.port || 5432), database: "postgres" });
    await expect(svc.requireScannable("alice", other.id)).resolves.toMatchObject({ id: other.id });
  });
});
