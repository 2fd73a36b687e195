import "reflect-metadata";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionRepo } from "../../../src/modules/connections/connection.repo.js";
import { ConnectionSecretError, ConnectionService } from "../../../src/modules/connections/connection.service.js";
import { DatabaseEngine } from "../../../src/modules/connections/connection.type.js";
import { SessionRepo } from "../../../src/modules/sessions/session.repo.js";
import { SessionService } from "../../../src/modules/sessions/session.service.js";
import { ActivityTracker } from "../../../src/modules/viewer/activity.service.js";
import { parseEncryptionKeys, type Keyring } from "../../../src/platform/crypto/secret-box.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { parseAllowedHosts } from "../../../src/platform/net/host-policy.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { adminUrl, createTestDatabase, type TestDatabase } from "../../support/database.js";

let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let sessions: SessionService;
const k1 = randomBytes(32).toString("base64");
const k2 = randomBytes(32).toString("base64");

const service = (keyring: Keyring) =>
  new ConnectionService(new ConnectionRepo(prisma), sessions, keyring, silentLogger, { hostPolicy: parseAllowedHosts(undefined, { allowLoopback: true }), connectTimeoutMs: 5_000 });

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

const target = () => new URL(adminUrl());
async function saveReal(svc: ConnectionService, ownerId: string, password = decodeURIComponent(target().password)) {
  const s = await sessions.open(ownerId, { name: "crypto" });
  const t = target();
  return svc.save(ownerId, {
    sessionId: s.id, name: "live", engine: DatabaseEngine.POSTGRESQL, host: t.hostname, port: Number(t.port || 5432),
    database: "postgres", user: decodeURIComponent(t.username), password, ssl: false,
  });
}
const stored = (id: string) => prisma.databaseConnection.findUniqueOrThrow({ where: { id }, select: { passwordCiphertext: true, keyId: true } });
const setCiphertext = (id: string, bytes: Uint8Array) =>
  prisma.databaseConnection.update({ where: { id }, data: { passwordCiphertext: new Uint8Array(bytes) } });

describe("database passwords at rest", () => {
  it("stores only a ciphertext bound to the row and opens it for the owner only", async () => {
    const svc = service(parseEncryptionKeys(`k1:${k1}`));
    const password = `Pässwörd-${randomBytes(6).toString("hex")}`;
    const row = await saveReal(svc, "alice", password);
    const { passwordCiphertext, keyId } = await stored(row.id);
    expect(keyId).toBe("k1");
    const bytes = Buffer.from(passwordCiphertext);
    expect(bytes.includes(Buffer.from(password))).toBe(false);
    expect(bytes.toString("latin1")).not.toContain("Pässw");
    expect(bytes.length).toBe(1 + 12 + Buffer.byteLength(password) + 16);
    expect((await svc.loadScanTarget("alice", row.id))!.password).toBe(password);
    expect(await svc.loadScanTarget("bob", row.id)).toBeNull();
  });

  it("refuses tampered, truncated and swapped ciphertexts", async () => {
    const svc = service(parseEncryptionKeys(`k1:${k1}`));
    const a = await saveReal(svc, "alice", "password-a");
    const b = await saveReal(svc, "alice", "password-b");
    const c = await saveReal(svc, "bob", "password-c");
    const original = Buffer.from((await stored(a.id)).passwordCiphertext);
    const cases: Array<[string, Uint8Array]> = [
      ["a flipped ciphertext bit", Buffer.from(original).fill(original[14]! ^ 1, 14, 15)],
      ["a flipped tag bit", Buffer.from(original).fill(original[original.length - 1]! ^ 0x80, original.length - 1)],
      ["a flipped nonce bit", Buffer.from(original).fill(original[3]! ^ 1, 3, 4)],
      ["a truncated tag", original.subarray(0, original.length - 4)],
      ["a truncated blob", original.subarray(0, 20)],
      ["the same owner's other row", (await stored(b.id)).passwordCiphertext],
      ["another owner's row", (await stored(c.id)).passwordCiphertext],
    ];
    for (const [what, bytes] of cases) {
      await setCiphertext(a.id, bytes);
      await expect(svc.loadScanTarget("alice", a.id), what).rejects.toBeInstanceOf(ConnectionSecretError);
      expect((await svc.test("alice", a.id)).code, what).toBe("SECRET_UNAVAILABLE");
    }
    await setCiphertext(a.id, original);
    expect((await svc.loadScanTarget("alice", a.id))!.password).toBe("password-a");
  });

  it("rotation: a row sealed with k1 still tests and loads under k2,k1 and is re-sealed with k2", async () => {
    const old = service(parseEncryptionKeys(`k1:${k1}`));
    const row = await saveReal(old, "alice");
    const sealedWithK1 = Buffer.from((await stored(row.id)).passwordCiphertext);

    const rotated = service(parseEncryptionKeys(`k2:${k2},k1:${k1}`));
    const result = await rotated.test("alice", row.id);
    expect(result.code).toBeNull();
    expect(result).toMatchObject({ ok: true });
    const after = await stored(row.id);
    expect(after.keyId).toBe("k2");
    expect(Buffer.from(after.passwordCiphertext).equals(sealedWithK1)).toBe(false);

    // k1 can now be removed: the row opens with k2 alone; a k1-only keyring no longer opens it.
    const k2only = service(parseEncryptionKeys(`k2:${k2}`));
    expect((await k2only.loadScanTarget("alice", row.id))!.password).toBe(decodeURIComponent(target().password));
    await expect(old.loadScanTarget("alice", row.id)).rejects.toBeInstanceOf(ConnectionSecretError);
  });

  it("rotation through loadScanTarget (the scan worker's read) re-seals too", async () => {
    const row = await saveReal(service(parseEncryptionKeys(`k1:${k1}`)), "bob", "worker-read");
    const rotated = service(parseEncryptionKeys(`k2:${k2},k1:${k1}`));
    expect((await rotated.loadScanTarget("bob", row.id))!.password).toBe("worker-read");
    expect((await stored(row.id)).keyId).toBe("k2");
  });
});
