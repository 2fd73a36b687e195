import { randomUUID } from "node:crypto";
import type { Logger } from "../../platform/observability/logger.js";
import { checkTargetAllowed, hostRefusal, isValidHostSyntax, type HostPolicy } from "../../platform/net/host-policy.js";
import { MemoryRateLimiter, type RateLimit, type RateLimiter } from "../../platform/rate-limit/rate-limiter.js";
import { DecryptError, needsRotation, open, seal, type Keyring } from "../../platform/crypto/secret-box.js";
import { AppError, badInput, notFound } from "../../shared/errors.js";
import type { DatabaseTarget } from "../../platform/target-db/index.js";
import { cleanText } from "../../shared/text.js";
import type { SessionService } from "../sessions/session.service.js";
import { badAfter, listPage } from "../sessions/list-page.js";
import type { DatabaseConnectionChanges, DatabaseConnectionInput } from "./connection.input.js";
import type { ConnectionRepo, ConnectionRow, ConnectionSecretRow } from "./connection.repo.js";
import { DatabaseEngine, type ConnectionTestResult } from "./connection.type.js";

/** The secret-box purpose of a stored database password (part of the associated data). */
export const PASSWORD_PURPOSE = "db-password";

export const LIMITS = { name: 100, host: 255, database: 63, user: 63, password: 256 } as const;

/** A stored password that cannot be opened (its key left ENCRYPTION_KEY, or the row was tampered with). */
export class ConnectionSecretError extends Error {
  override name = "ConnectionSecretError";
  readonly code = "SECRET_UNAVAILABLE";
}

export interface ConnectionServiceOptions {
  /** From DATABASE_SCAN_ALLOWED_HOSTS (parseAllowedHosts). */
  hostPolicy: HostPolicy;
  /** testDatabaseConnection gives up after this long. @default 10000 */
  connectTimeoutMs?: number;
  /** Connection tests and database scan starts per user (DATABASE_TEST_RATE_LIMIT). @default 10 per minute */
  rateLimit?: RateLimit;
  /** Where the attempts are counted (Redis across instances). @default in memory, with `rateLimit` */
  rateLimiter?: RateLimiter;
}

/**
 * Database connections: validated, password sealed with AES-256-GCM bound to (owner, row,
 * purpose), never returned or logged. The password is opened in exactly two places:
 * {@link ConnectionService.test} and {@link ConnectionService.loadScanTarget}.
 */
export class ConnectionService {
  constructor(
    private readonly repo: ConnectionRepo,
    private readonly sessions: SessionService,
    private readonly keyring: Keyring,
    private readonly log: Logger,
    private readonly options: ConnectionServiceOptions,
  ) {
    this.rateLimit = options.rateLimit ?? { points: 10, windowMs: 60_000 };
    this.rateLimiter = options.rateLimiter ?? new MemoryRateLimiter(this.rateLimit);
  }

  private readonly rateLimit: RateLimit;
  private readonly rateLimiter: RateLimiter;

  /** The host policy database scans and connection tests obey (one for the process, built in app.ts). */
  get hostPolicy(): HostPolicy {
    return this.options.hostPolicy;
  }

  async save(ownerId: string, input: DatabaseConnectionInput): Promise<ConnectionRow> {
    const valid = validateConnectionInput(input);
    const session = await this.sessions.requireOwned(ownerId, input.sessionId, "sessionId");
    // The row id exists before the insert so the ciphertext's associated data binds this row.
    const id = randomUUID();
    const sealed = seal(this.keyring, input.password, { ownerId, rowId: id, purpose: PASSWORD_PURPOSE });
    // At most MAX_CONNECTIONS_PER_SESSION per session (issue 12): session-limits.ts.
    const row = await this.sessions.insertWithinCap(ownerId, session.id, "connections", (db) =>
      this.repo.insert(ownerId, { id, sessionId: session.id, ...valid, passwordCiphertext: sealed.ciphertext, keyId: sealed.keyId }, db),
    );
    this.log.info({ connectionId: row.id, sessionId: session.id, engine: row.engine }, "database connection saved");
    return row;
  }

  /**
   * Edits a saved connection in place (issue 14, point 4): same id, so scans keep pointing at it.
   * Fields left out keep their values; the password is re-sealed only when a new one is given,
   * bound to the same (owner, row) as before.
   */
  async update(ownerId: string, id: string, changes: DatabaseConnectionChanges): Promise<ConnectionRow> {
    const row = await this.repo.findOwned(ownerId, id);
    if (!row) throw notFound("Database connection");
    const pick = <K extends keyof DatabaseConnectionChanges>(k: K, current: NonNullable<DatabaseConnectionChanges[K]>) => changes[k] ?? current;
    const newPassword = changes.password ?? null;
    const valid = validateConnectionInput({
      sessionId: row.sessionId,
      name: pick("name", row.name),
      engine: pick("engine", row.engine as DatabaseEngine),
      host: pick("host", row.host),
      port: pick("port", row.port),
      database: pick("database", row.database),
      user: pick("user", row.user),
      password: newPassword ?? "",
      ssl: pick("ssl", row.ssl),
    });
    const sealed = newPassword === null ? null : seal(this.keyring, newPassword, { ownerId, rowId: row.id, purpose: PASSWORD_PURPOSE });
    const updated = await this.repo.updateOwned(ownerId, row.id, valid, sealed);
    if (!updated) throw notFound("Database connection");
    this.sessions.touch(ownerId, row.sessionId);
    this.log.info({ connectionId: row.id, engine: updated.engine, passwordChanged: sealed !== null }, "database connection updated");
    return updated;
  }

  /** One page of the session's connections, oldest first (list-page.ts); a foreign or unknown session is NOT_FOUND. */
  async list(ownerId: string, sessionId: string, first?: number | null, after?: string | null): Promise<ConnectionRow[]> {
    const page = listPage(first, after);
    const session = await this.sessions.requireOwned(ownerId, sessionId, "sessionId");
    const rows = await this.repo.listBySession(ownerId, session.id, page);
    if (rows === "BAD_AFTER") throw badAfter();
    return rows;
  }

  /**
   * The owner's connection (in a live session), or NOT_FOUND naming `field`: unknown and
   * foreign ids alike. For other modules taking a `connectionId` argument (startDatabaseScan).
   */
  async requireOwned(ownerId: string, id: string, field = "connectionId"): Promise<ConnectionRow> {
    const row = await this.repo.findOwned(ownerId, id);
    if (!row) throw new AppError("NOT_FOUND", "Database connection not found", { field });
    this.sessions.touch(ownerId, row.sessionId);
    return row;
  }

  /**
   * For startDatabaseScan: the owner's connection, counted against the per-user rate limit,
   * and its host checked against the policy now (the worker checks the resolved address
   * again when it connects). A refused host is BAD_USER_INPUT with what to ask the operator.
   */
  async requireScannable(ownerId: string, id: string, field = "connectionId"): Promise<ConnectionRow> {
    const row = await this.requireOwned(ownerId, id, field);
    await this.throttle(ownerId);
    const verdict = await checkTargetAllowed(this.options.hostPolicy, row);
    // A name that does not resolve now may later: the scan fails then, like any unreachable host.
    if (!verdict.ok && !verdict.unresolved) {
      // The operator's line says what a refused name resolved to; the user's answer does not.
      this.log.info({ connectionId: row.id, reason: "HOST_NOT_ALLOWED", detail: verdict.detail ?? verdict.reason }, "database scan start refused by the host policy");
      throw new AppError("BAD_USER_INPUT", hostRefusal(row.host, verdict), { field, reason: "HOST_NOT_ALLOWED" });
    }
    return row;
  }

  /**
   * One attempt to reach a database for `ownerId`: connection tests and scan starts share the
   * count, so that neither is a free port scanner or password oracle (issue 12, point 2).
   */
  private async throttle(ownerId: string): Promise<void> {
    const verdict = await this.rateLimiter.take(`db-connect:${ownerId}`);
    if (verdict.allowed) return;
    const retryAfterSeconds = Math.ceil(verdict.retryAfterMs / 1000);
    const window = this.rateLimit.windowMs % 60_000 === 0 ? `${this.rateLimit.windowMs / 60_000} min` : `${Math.round(this.rateLimit.windowMs / 1000)} s`;
    // The setting's name is for operators (log) and programs (extensions.limit), not the sentence.
    this.log.warn(
      { reason: "RATE_LIMITED", retryAfterSeconds, limit: "DATABASE_TEST_RATE_LIMIT", value: `${this.rateLimit.points} per ${window}` },
      "database connection attempts rate-limited",
    );
    throw new AppError("CAPACITY_EXCEEDED", `Too many connection tests: try again in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
      reason: "RATE_LIMITED",
      limit: "DATABASE_TEST_RATE_LIMIT",
    });
  }

  async delete(ownerId: string, id: string): Promise<true> {
    const row = await this.repo.findOwned(ownerId, id);
    if (!row) throw notFound("Database connection");
    if (!(await this.repo.deleteOwned(ownerId, row.id))) throw notFound("Database connection");
    this.sessions.touch(ownerId, row.sessionId);
    return true;
  }

  /** Tries to connect with the stored settings (honouring the host policy); answers ok or a code and reason. */
  async test(ownerId: string, id: string): Promise<ConnectionTestResult> {
    const row = await this.repo.findForUse(ownerId, id);
    if (!row) throw notFound("Database connection");
    this.sessions.touch(ownerId, row.sessionId);
    await this.throttle(ownerId);
    let target: DatabaseTarget;
    try {
      target = await this.toTarget(ownerId, row);
    } catch (err) {
      if (err instanceof ConnectionSecretError) return { ok: false, code: err.code, message: err.message, serverVersion: null };
      throw err;
    }
    // Loaded on first use: the client brings both database drivers, which most API calls never need.
    const { testDatabaseConnection } = await import("../../platform/target-db/index.js");
    const result = await testDatabaseConnection(target, {
      hostPolicy: this.options.hostPolicy,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
    });
    // `detail` tells refused from timed out for the operator; the user's answer does not (issue 12.2).
    this.log.info(
      { connectionId: row.id, ok: result.ok, code: result.ok ? undefined : result.code, detail: result.ok ? undefined : result.detail },
      "database connection tested",
    );
    return result.ok
      ? { ok: true, code: null, message: null, serverVersion: result.serverVersion }
      : { ok: false, code: result.code, message: result.message, serverVersion: null };
  }

  /**
   * For the scan worker: the connection with its decrypted password, or null when it is not
   * the owner's (or gone). Never put the result in a job or a log line.
   * @throws ConnectionSecretError when the stored password cannot be opened.
   */
  async loadScanTarget(ownerId: string, connectionId: string): Promise<DatabaseTarget | null> {
    const row = await this.repo.findForUse(ownerId, connectionId);
    if (!row) return null;
    return this.toTarget(ownerId, row);
  }

  /** Opens the password; re-seals rows of an older key with the current one (rotation re-reads old rows). */
  private async toTarget(ownerId: string, row: ConnectionSecretRow): Promise<DatabaseTarget> {
    const context = { ownerId, rowId: row.id, purpose: PASSWORD_PURPOSE };
    let password: string;
    try {
      password = open(this.keyring, { ciphertext: Buffer.from(row.passwordCiphertext), keyId: row.keyId }, context);
    } catch (err) {
      if (err instanceof DecryptError) {
        this.log.error({ connectionId: row.id, keyId: row.keyId, reason: err.reason }, "stored database password cannot be decrypted");
        throw new ConnectionSecretError(
          err.reason === "unknown-key"
            ? `the key "${row.keyId}" that sealed this password is no longer configured; save the connection again`
            : "the stored password cannot be decrypted; save the connection again",
        );
      }
      throw err;
    }
    if (needsRotation(this.keyring, row.keyId)) {
      try {
        const resealed = seal(this.keyring, password, context);
        if (await this.repo.reseal(ownerId, row.id, row.keyId, resealed)) {
          this.log.info({ connectionId: row.id, from: row.keyId, to: resealed.keyId }, "database password re-sealed with the current key");
        }
      } catch (err) {
        // Rotation is best effort: the password opened, the next read tries again.
        this.log.warn({ err, connectionId: row.id }, "re-sealing a database password failed");
      }
    }
    return { engine: row.engine, host: row.host, port: row.port, database: row.database, user: row.user, password, ssl: row.ssl };
  }
}

/** Field-by-field validation; the first failure is BAD_USER_INPUT naming its field. */
export function validateConnectionInput(input: DatabaseConnectionInput): Omit<ConnectionRow, "id" | "ownerId" | "sessionId" | "createdAt"> {
  const name = cleanText(input.name, "name", LIMITS.name);
  if (!Object.values(DatabaseEngine).includes(input.engine)) throw badInput("engine must be POSTGRESQL or MYSQL", "engine");
  const host = cleanText(input.host, "host", LIMITS.host);
  if (!isValidHostSyntax(host)) throw badInput("host must be a hostname or an IP address", "host");
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65_535) throw badInput("port must be between 1 and 65535", "port");
  const database = cleanText(input.database, "database", LIMITS.database);
  const user = cleanText(input.user, "user", LIMITS.user);
  const password = input.password;
  if (typeof password !== "string") throw badInput("password is required", "password");
  if ([...password].length > LIMITS.password) throw badInput(`password must be at most ${LIMITS.password} characters`, "password");
  // NUL cannot travel in either wire protocol; lone surrogates do not survive UTF-8.
  if (password.includes("\u0000") || /\p{Cs}/u.test(password)) throw badInput("password contains characters that cannot be sent", "password");
  const ssl = input.ssl ?? false;
  return { name, engine: input.engine, host, port: input.port, database, user, ssl };
}
