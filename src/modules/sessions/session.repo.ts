import type { PrismaClient, Session as SessionModel } from "../../generated/prisma/client.js";
import { isUuid } from "../../shared/ids.js";
import type { CappedRows, RowWriter } from "./session-limits.js";

/** A stored session row (ownerId included: the GraphQL type exposes only its declared fields). */
export type SessionRow = SessionModel;

/**
 * Session rows. Every function that touches a user's data takes `ownerId` and puts it in the
 * `where` (STYLE.md): another user's session is simply not found. Expired sessions that the
 * cleanup job has not reached yet are treated as gone.
 */
export class SessionRepo {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Creates a session unless the owner already holds `max` live ones. A transaction-scoped
   * advisory lock on the owner serialises concurrent opens of one user, so two requests
   * cannot both take the last place.
   */
  async createWithinLimit(ownerId: string, data: { name: string | null; ttlMs: number; max: number }): Promise<SessionRow | "LIMIT"> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`dg:sessions:${ownerId}`}, 0))`;
      const held = await tx.session.count({ where: { ownerId, expiresAt: { gt: new Date() } } });
      if (held >= data.max) return "LIMIT" as const;
      const now = new Date();
      return tx.session.create({
        data: { ownerId, name: data.name, createdAt: now, lastActiveAt: now, expiresAt: new Date(now.getTime() + data.ttlMs) },
      });
    });
  }

  async findOwned(ownerId: string, id: string): Promise<SessionRow | null> {
    if (!isUuid(id)) return null;
    return this.prisma.session.findFirst({ where: { id, ownerId, expiresAt: { gt: new Date() } } });
  }

  async findManyOwned(ownerId: string, ids: readonly string[]): Promise<SessionRow[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return this.prisma.session.findMany({ where: { id: { in: valid }, ownerId, expiresAt: { gt: new Date() } } });
  }

  /** The owner's live sessions, newest first (bounded by the per-user cap). */
  async listOwned(ownerId: string): Promise<SessionRow[]> {
    return this.prisma.session.findMany({
      where: { ownerId, expiresAt: { gt: new Date() } },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    });
  }

  /** Deletes one session (cascading to everything it holds); false when it is not the owner's. */
  async deleteOwned(ownerId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await this.prisma.session.deleteMany({ where: { id, ownerId } });
    return count > 0;
  }

  /**
   * System-wide aggregates for the admin debug view: no owner on purpose (counts only, no
   * user data leaves this function). Exact counts: fine for a debug view, not for a hot path.
   */
  async stats(): Promise<{
    sessions: number;
    expiredPending: number;
    rows: { sessions: number; scans: number; findings: number; scanInputs: number; connections: number; payments: number };
    oldestSessionCreatedAt: Date | null;
  }> {
    const [row] = await this.prisma.$queryRaw<
      Array<{ live: bigint; expired: bigint; sessions: bigint; scans: bigint; findings: bigint; inputs: bigint; connections: bigint; payments: bigint; oldest: Date | null }>
    >`
      SELECT
        (SELECT count(*) FROM "Session" WHERE "expiresAt" > now()) AS live,
        (SELECT count(*) FROM "Session" WHERE "expiresAt" <= now()) AS expired,
        (SELECT count(*) FROM "Session") AS sessions,
        (SELECT count(*) FROM "Scan") AS scans,
        (SELECT count(*) FROM "Finding") AS findings,
        (SELECT count(*) FROM "ScanInput") AS inputs,
        (SELECT count(*) FROM "DatabaseConnection") AS connections,
        (SELECT count(*) FROM "PaymentRecord") AS payments,
        (SELECT min("createdAt") FROM "Session") AS oldest`;
    const n = (v: bigint | undefined) => Number(v ?? 0n);
    return {
      sessions: n(row?.live),
      expiredPending: n(row?.expired),
      rows: {
        sessions: n(row?.sessions),
        scans: n(row?.scans),
        findings: n(row?.findings),
        scanInputs: n(row?.inputs),
        connections: n(row?.connections),
        payments: n(row?.payments),
      },
      oldestSessionCreatedAt: row?.oldest ?? null,
    };
  }

  /** The last cleanup run that deleted anything (admin debug view; system-wide). */
  async lastCleanupRun() {
    return this.prisma.cleanupRun.findFirst({ orderBy: [{ startedAt: "desc" }, { id: "desc" }] });
  }

  /** Rows of `kind` in the owner's session (for the per-session caps, session-limits.ts). */
  countInSession(ownerId: string, sessionId: string, kind: CappedRows, db: RowWriter = this.prisma): Promise<number> {
    if (!isUuid(sessionId)) return Promise.resolve(0);
    const where = { ownerId, sessionId };
    return kind === "payments" ? db.paymentRecord.count({ where }) : db.databaseConnection.count({ where });
  }

  /**
   * Runs `insert` in a transaction that holds the session's row lock (a transaction-scoped
   * advisory lock, as for sessions per user), unless the session already holds `max` rows of
   * `kind`: concurrent inserts into one session queue, and none takes a place that is not there.
   */
  insertWithinCap<T>(ownerId: string, sessionId: string, kind: CappedRows, max: number, insert: (db: RowWriter) => Promise<T>): Promise<T | "FULL"> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`dg:session-rows:${sessionId}`}, 0))`;
      if ((await this.countInSession(ownerId, sessionId, kind, tx)) >= max) return "FULL" as const;
      return insert(tx);
    });
  }
}
