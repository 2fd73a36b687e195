import type { PrismaClient } from "../../../src/platform/db/prisma.js";

export interface SeededSession {
  id: string;
  ownerId: string;
  /** Rows it holds, by kind. */
  counts: { scans: number; findings: number; scanInputs: number; connections: number; payments: number; running: number };
}

/**
 * A session holding one of everything: a finished DOCUMENT scan with two findings and an
 * input, a RUNNING DATABASE scan over a connection, and a payment. Raw inserts (no services)
 * so the expiry job is tested on its own.
 */
export async function seedSession(prisma: PrismaClient, ownerId: string, expiresAt: Date, name = "seeded"): Promise<SeededSession> {
  await prisma.user.upsert({ where: { id: ownerId }, create: { id: ownerId }, update: {} });
  const session = await prisma.session.create({ data: { ownerId, name, expiresAt, lastActiveAt: new Date(expiresAt.getTime() - 1_000) } });
  const connection = await prisma.databaseConnection.create({
    data: {
      ownerId, sessionId: session.id, name: `${name} db`, engine: "POSTGRESQL", host: "db.example", port: 5432,
      database: "crm", user: "reader", passwordCiphertext: new Uint8Array([1, 2, 3]), keyId: "k1",
    },
  });
  await prisma.scan.create({
    data: {
      ownerId, sessionId: session.id, kind: "DOCUMENT", status: "SUCCEEDED",
      findings: {
        create: [
          { ownerId, ordinal: 0, type: "EMAIL", severity: "MEDIUM", confidence: 0.9, maskedValue: "j***@example.com", source: "a.txt" },
          { ownerId, ordinal: 1, type: "IBAN", severity: "HIGH", confidence: 0.99, maskedValue: "NL** 1234", source: "a.txt" },
        ],
      },
      inputs: { create: [{ ownerId, ordinal: 0, name: "a.txt", content: new Uint8Array(Buffer.from("jan@example.com")) }] },
    },
  });
  await prisma.scan.create({ data: { ownerId, sessionId: session.id, kind: "DATABASE", status: "RUNNING", connectionId: connection.id } });
  await prisma.paymentRecord.create({
    data: { ownerId, sessionId: session.id, provider: "mollie", reference: "tr_1", amountCents: 100, currency: "EUR", status: "PAID" },
  });
  return { id: session.id, ownerId, counts: { scans: 2, findings: 2, scanInputs: 1, connections: 1, payments: 1, running: 1 } };
}

/** Rows still present for these sessions, by kind. */
export async function rowsFor(prisma: PrismaClient, sessionIds: string[]) {
  const scans = await prisma.scan.findMany({ where: { sessionId: { in: sessionIds } }, select: { id: true } });
  const scanIds = scans.map((s) => s.id);
  return {
    sessions: await prisma.session.count({ where: { id: { in: sessionIds } } }),
    scans: scans.length,
    findings: await prisma.finding.count({ where: { scanId: { in: scanIds } } }),
    scanInputs: await prisma.scanInput.count({ where: { scanId: { in: scanIds } } }),
    connections: await prisma.databaseConnection.count({ where: { sessionId: { in: sessionIds } } }),
    payments: await prisma.paymentRecord.count({ where: { sessionId: { in: sessionIds } } }),
  };
}

/** Bulk seeding for volume tests and the bench: `n` expired sessions, each with one of everything. SQL, for speed. */
export async function seedExpiredBulk(prisma: PrismaClient, ownerId: string, n: number): Promise<void> {
  await prisma.user.upsert({ where: { id: ownerId }, create: { id: ownerId }, update: {} });
  await prisma.$executeRaw`
    WITH s AS (
      INSERT INTO "Session" (id, "ownerId", name, "createdAt", "lastActiveAt", "expiresAt")
      SELECT gen_random_uuid(), ${ownerId}, 'bulk ' || g, now() - interval '2 days', now() - interval '2 days', now() - interval '1 day'
      FROM generate_series(1, ${n}::int) g RETURNING id
    ), c AS (
      INSERT INTO "DatabaseConnection" (id, "ownerId", "sessionId", name, engine, host, port, database, "user", "passwordCiphertext", "keyId")
      SELECT gen_random_uuid(), ${ownerId}, s.id, 'db', 'POSTGRESQL', 'db.example', 5432, 'crm', 'reader', '\\x010203'::bytea, 'k1' FROM s RETURNING id
    ), p AS (
      INSERT INTO "PaymentRecord" (id, "ownerId", "sessionId", provider, reference, "amountCents", currency, status)
      SELECT gen_random_uuid(), ${ownerId}, s.id, 'mollie', 'tr_x', 100, 'EUR', 'PAID' FROM s RETURNING id
    ), sc AS (
      INSERT INTO "Scan" (id, "ownerId", "sessionId", kind, status)
      SELECT gen_random_uuid(), ${ownerId}, s.id, 'DOCUMENT', 'SUCCEEDED' FROM s RETURNING id
    ), f AS (
      INSERT INTO "Finding" (id, "scanId", "ownerId", ordinal, type, severity, confidence, "maskedValue", source)
      SELECT gen_random_uuid(), sc.id, ${ownerId}, o, 'EMAIL', 'MEDIUM', 0.9, 'j***@example.com', 'a.txt' FROM sc, generate_series(0, 1) o RETURNING id
    )
    INSERT INTO "ScanInput" (id, "scanId", "ownerId", ordinal, name, content)
    SELECT gen_random_uuid(), sc.id, ${ownerId}, 0, 'a.txt', '\\x6a616e'::bytea FROM sc`;
}
