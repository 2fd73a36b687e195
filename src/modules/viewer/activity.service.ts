import type { PrismaClient } from "../../generated/prisma/client.js";
import type { Logger } from "../../platform/observability/logger.js";

/** The window in which a user counts as active (capacity monitor). */
export const ACTIVE_WINDOW_MS = 5 * 60_000;

/**
 * Tracks activity without a write per request: requests mark users and sessions in memory,
 * and one batched UPDATE per table per interval moves `lastSeenAt` / `lastActiveAt` and the
 * session's `expiresAt`. Every instance flushes its own marks, so "active in the last 5
 * minutes" is a count over the shared table and holds across instances.
 */
export class ActivityTracker {
  /** userId -> role from the token, or null when only a session touch named the user (row exists). */
  private users = new Map<string, "USER" | "ADMIN" | null>();
  private sessions = new Map<string, string>(); // sessionId -> ownerId
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly log: Logger,
    private readonly options: { sessionTtlMs: number; flushIntervalMs?: number },
  ) {}

  /** How often marks are written: at most every 15 s, sooner with a short TTL (tests). */
  get flushIntervalMs(): number {
    return this.options.flushIntervalMs ?? Math.max(200, Math.min(15_000, Math.floor(this.options.sessionTtlMs / 4)));
  }

  touchUser(userId: string, role: "USER" | "ADMIN" | null = null): void {
    if (role !== null || !this.users.has(userId)) this.users.set(userId, role);
  }

  touchSession(ownerId: string, sessionId: string): void {
    this.sessions.set(sessionId, ownerId);
    if (!this.users.has(ownerId)) this.users.set(ownerId, null);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes pending marks; concurrent callers share one flush. */
  flush(): Promise<void> {
    this.flushing ??= this.doFlush().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const users = [...this.users];
    const sessions = [...this.sessions];
    this.users = new Map();
    this.sessions = new Map();
    try {
      if (users.length > 0) {
        // Users seen with a token get their row here if they have none yet (one statement for
        // every user of the interval), so a connection or a query never writes on its own.
        const ids = users.map(([id]) => id);
        const roles = users.map(([, role]) => role ?? "USER");
        const known = users.map(([, role]) => role !== null);
        await this.prisma.$executeRaw`
          INSERT INTO "User" (id, role, "createdAt", "lastSeenAt")
          SELECT t.id, t.role::"Role", now(), now()
          FROM unnest(${ids}::text[], ${roles}::text[], ${known}::boolean[]) AS t(id, role, known)
          WHERE t.known
          ON CONFLICT (id) DO UPDATE SET "lastSeenAt" = now()`;
        const touchedOnly = users.filter(([, role]) => role === null).map(([id]) => id);
        if (touchedOnly.length > 0) {
          await this.prisma.$executeRaw`UPDATE "User" SET "lastSeenAt" = now() WHERE id = ANY(${touchedOnly}::text[])`;
        }
      }
      if (sessions.length > 0) {
        const ids = sessions.map(([id]) => id);
        const owners = sessions.map(([, owner]) => owner);
        const ttl = `${this.options.sessionTtlMs} milliseconds`;
        // Owner in the WHERE as everywhere: a session id alone never selects a row.
        await this.prisma.$executeRaw`
          UPDATE "Session" s SET "lastActiveAt" = now(), "expiresAt" = now() + ${ttl}::interval
          FROM unnest(${ids}::uuid[], ${owners}::text[]) AS t(id, owner)
          WHERE s.id = t.id AND s."ownerId" = t.owner AND s."expiresAt" > now()`;
      }
    } catch (err) {
      this.log.warn({ err }, "activity flush failed; marks dropped until the next request");
    }
  }

  /** Users active within the window, across all instances (after their last flush). */
  async activeUsers(windowMs = ACTIVE_WINDOW_MS): Promise<number> {
    const since = new Date(Date.now() - windowMs);
    return this.prisma.user.count({ where: { lastSeenAt: { gte: since } } });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
