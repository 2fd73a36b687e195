import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";
import type pg from "pg";

describe("deleting a Session (GDPR storage limitation)", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let prisma: PrismaClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5, log: silentLogger });
    prisma = createPrisma(pool);
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await pool?.end();
    await db?.drop();
  });

  /** A session holding one of everything, including a DATABASE scan that reads its connection. */
  async function fillSession(ownerId: string, name: string): Promise<string> {
    const session = await prisma.session.create({
      data: { ownerId, name, expiresAt: new Date(Date.now() + 3_600_000) },
    });
    const connection = await prisma.databaseConnection.create({
      data: {
        ownerId, sessionId: session.id, name: `${name} db`, engine: "POSTGRESQL", host: "db.example", port: 5432,
        database: "crm", user: "reader", passwordCiphertext: Buffer.from("not-a-real-ciphertext"), keyId: "k1",
      },
    });
    for (const kind of ["DOCUMENT", "DATABASE"] as const) {
      await prisma.scan.create({
        data: {
          ownerId, sessionId: session.id, kind,
          connectionId: kind === "DATABASE" ? connection.id : null,
          findings: {
            create: [
              { ownerId, ordinal: 0, type: "EMAIL", severity: "MEDIUM", confidence: 0.9, maskedValue: "j***@example.com", source: "a.txt" },
              { ownerId, ordinal: 1, type: "IBAN", severity: "HIGH", confidence: 0.99, maskedValue: "NL** **** 1234", source: "a.txt" },
            ],
          },
          inputs: { create: [{ ownerId, ordinal: 0, name: "a.txt", content: Buffer.from("jan@example.com") }] },
        },
      });
    }
    await prisma.paymentRecord.create({
      data: { ownerId, sessionId: session.id, provider: "stripe", reference: `pi_${name}`, amountCents: 4900, currency: "EUR", status: "paid" },
    });
    return session.id;
  }

  async function counts(sessionId: string) {
    const scanWhere = { scan: { sessionId } };
    return {
      sessions: await prisma.session.count({ where: { id: sessionId } }),
      scans: await prisma.scan.count({ where: { sessionId } }),
      findings: await prisma.finding.count({ where: scanWhere }),
      inputs: await prisma.scanInput.count({ where: scanWhere }),
      connections: await prisma.databaseConnection.count({ where: { sessionId } }),
      payments: await prisma.paymentRecord.count({ where: { sessionId } }),
    };
  }

  it("removes its scans, findings, scan inputs, connections and payments; leaves other sessions alone", async () => {
    await prisma.user.create({ data: { id: "user-a" } });
    const a = await fillSession("user-a", "A");
    const b = await fillSession("user-a", "B");
    const full = { sessions: 1, scans: 2, findings: 4, inputs: 2, connections: 1, payments: 1 };
    expect(await counts(a)).toEqual(full);
    expect(await counts(b)).toEqual(full);
    const totalFindings = await prisma.finding.count();

    await prisma.session.delete({ where: { id: a } });

    expect(await counts(a)).toEqual({ sessions: 0, scans: 0, findings: 0, inputs: 0, connections: 0, payments: 0 });
    expect(await counts(b)).toEqual(full);
    expect(await prisma.finding.count()).toBe(totalFindings - 4);
    expect(await prisma.user.count({ where: { id: "user-a" } })).toBe(1);
  });

  it("deleting a connection keeps its scans and clears their connectionId", async () => {
    await prisma.user.upsert({ where: { id: "user-b" }, create: { id: "user-b" }, update: {} });
    const sessionId = await fillSession("user-b", "C");
    const connection = await prisma.databaseConnection.findFirstOrThrow({ where: { sessionId } });
    await prisma.databaseConnection.delete({ where: { id: connection.id } });
    const scans = await prisma.scan.findMany({ where: { sessionId }, orderBy: { kind: "asc" } });
    expect(scans).toHaveLength(2);
    expect(scans.every((s) => s.connectionId === null)).toBe(true);
  });
});
