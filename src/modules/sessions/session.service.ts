import type { ActivityTracker } from "../viewer/activity.service.js";
import { AppError, notFound } from "../../shared/errors.js";
import { cleanText } from "../../shared/text.js";
import type { OpenSessionInput } from "./session.input.js";
import type { SessionRepo, SessionRow } from "./session.repo.js";
import type { SessionManagerStats } from "./session.type.js";
import { DEFAULT_SESSION_ROW_CAPS, sessionFull, type CappedRows, type RowWriter, type SessionRowCaps } from "./session-limits.js";

/**
 * Called before sessions are deleted (closeSession, expiry), so running scans in them are
 * cancelled first. `ownerId` is null when the sessions belong to several owners (expiry).
 * The composition root wires it to the scans module; it must be idempotent (two callers may
 * cancel the same scan) and must not throw for sessions that hold no scans.
 */
export type BeforeSessionsDelete = (ownerId: string | null, sessionIds: string[]) => Promise<void>;

export const noopBeforeDelete: BeforeSessionsDelete = async () => undefined;

export interface SessionServiceOptions {
  /** SESSION_TTL in ms: `expiresAt` = last activity + this. */
  sessionTtlMs: number;
  /** Live sessions one user may hold. @default 100 */
  maxSessionsPerUser?: number;
  /** @default no-op */
  beforeDelete?: BeforeSessionsDelete;
  /** Rows one session may hold. @default {@link DEFAULT_SESSION_ROW_CAPS} (200 payments, 20 connections) */
  rowCaps?: Partial<SessionRowCaps>;
}

export const DEFAULT_MAX_SESSIONS_PER_USER = 100;
export const MAX_SESSION_NAME = 200;

export class SessionService {
  private readonly max: number;
  private readonly rowCaps: SessionRowCaps;
  private readonly beforeDeleteHook: BeforeSessionsDelete;

  constructor(
    private readonly repo: SessionRepo,
    private readonly activity: ActivityTracker,
    private readonly options: SessionServiceOptions,
  ) {
    this.max = options.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER;
    this.rowCaps = { ...DEFAULT_SESSION_ROW_CAPS, ...options.rowCaps };
    this.beforeDeleteHook = options.beforeDelete ?? noopBeforeDelete;
  }

  get sessionTtlMs(): number {
    return this.options.sessionTtlMs;
  }

  /** The hook closeSession and the expiry job call before deleting (the job takes it from here). */
  get beforeDelete(): BeforeSessionsDelete {
    return this.beforeDeleteHook;
  }

  async open(ownerId: string, input: OpenSessionInput | null | undefined): Promise<SessionRow> {
    const name = cleanText(input?.name, "name", MAX_SESSION_NAME, true);
    const created = await this.repo.createWithinLimit(ownerId, { name, ttlMs: this.options.sessionTtlMs, max: this.max });
    if (created === "LIMIT") {
      throw new AppError("BAD_USER_INPUT", `You already hold the maximum of ${this.max} open sessions; close one first`, {
        field: "sessions",
        limit: this.max,
      });
    }
    this.activity.touchUser(ownerId);
    return created;
  }

  list(ownerId: string): Promise<SessionRow[]> {
    return this.repo.listOwned(ownerId);
  }

  /** The owner's session or null: unknown and foreign ids answer the same. Counts as activity. */
  async get(ownerId: string, id: string): Promise<SessionRow | null> {
    const row = await this.repo.findOwned(ownerId, id);
    if (row) this.touch(ownerId, row.id);
    return row;
  }

  /** Batched lookup for the per-request DataLoader: rows in any order, foreign ids absent. */
  findManyOwned(ownerId: string, ids: readonly string[]): Promise<SessionRow[]> {
    return this.repo.findManyOwned(ownerId, ids);
  }

  /**
   * The owner's live session, or NOT_FOUND (naming `field`) for unknown, expired and foreign
   * ids alike. Marks the session active: call it from every operation that works inside a
   * session (other modules too: scans, connections, payments).
   */
  async requireOwned(ownerId: string, id: string, field = "sessionId"): Promise<SessionRow> {
    const row = await this.repo.findOwned(ownerId, id);
    if (!row) throw new AppError("NOT_FOUND", "Session not found", { field });
    this.touch(ownerId, row.id);
    return row;
  }

  /**
   * Marks activity in a session the caller already proved is theirs (for example through the
   * `sessions` DataLoader). Throttled: in memory, flushed by the ActivityTracker in one batch.
   */
  touch(ownerId: string, sessionId: string): void {
    this.activity.touchSession(ownerId, sessionId);
  }

  /**
   * Inserts a row of `kind` (payments, connections) into a session the caller already proved is
   * theirs, unless the session is full: BAD_USER_INPUT then, with a sentence and the limit.
   * `insert` must write through the client it is given (the transaction holding the session's lock).
   */
  async insertWithinCap<T>(ownerId: string, sessionId: string, kind: CappedRows, insert: (db: RowWriter) => Promise<T>): Promise<T> {
    const max = this.rowCaps[kind];
    // A full session is refused without taking a lock or a transaction.
    if ((await this.repo.countInSession(ownerId, sessionId, kind)) >= max) throw sessionFull(kind, max);
    const row = await this.repo.insertWithinCap(ownerId, sessionId, kind, max, insert);
    if (row === "FULL") throw sessionFull(kind, max);
    return row;
  }

  /** Deletes the session and everything in it at once, after cancelling its running scans. */
  async close(ownerId: string, id: string): Promise<true> {
    const row = await this.repo.findOwned(ownerId, id);
    if (!row) throw notFound("Session");
    await this.beforeDeleteHook(ownerId, [row.id]);
    if (!(await this.repo.deleteOwned(ownerId, row.id))) throw notFound("Session");
    return true;
  }

  async stats(): Promise<SessionManagerStats> {
    const [s, activeUsers, last] = await Promise.all([this.repo.stats(), this.activity.activeUsers(), this.repo.lastCleanupRun()]);
    return {
      sessions: s.sessions,
      activeUsers,
      rowsHeld: s.rows,
      oldestSessionCreatedAt: s.oldestSessionCreatedAt,
      expiredPending: s.expiredPending,
      lastCleanup: last ? { ...last } : null,
      sessionTtlMs: this.options.sessionTtlMs,
    };
  }
}
