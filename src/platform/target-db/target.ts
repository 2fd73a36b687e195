import type { HostPolicy } from "../net/host-policy.js";

/**
 * The client for scanned ("target") databases: a PostgreSQL or MySQL/MariaDB server a user
 * named, reached from inside our network. Everything here treats that server as untrusted:
 * the host is vetted (see {@link HostPolicy}), reads are READ ONLY with a server-side
 * statement timeout, identifiers are quoted and values bound, and failures end with a
 * {@link DatabaseScanError} carrying a code a user can act on.
 */

export interface DatabaseTarget {
  engine: "POSTGRESQL" | "MYSQL";
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  ssl: boolean;
}

export type DatabaseScanErrorCode =
  | "HOST_NOT_ALLOWED"
  | "CONNECTION_FAILED"
  | "AUTHENTICATION_FAILED"
  | "PERMISSION_DENIED"
  | "DATABASE_NOT_FOUND"
  | "TIMEOUT"
  | "TABLE_NOT_FOUND"
  | "SCAN_FAILED";

export class DatabaseScanError extends Error {
  constructor(
    public readonly code: DatabaseScanErrorCode,
    message: string,
    /** What really happened, for the server's log only: the message may say less on purpose. */
    public readonly detail?: string,
  ) {
    super(message);
    this.name = "DatabaseScanError";
  }
}

/** TLS settings used when `target.ssl` is set. */
export interface DatabaseTlsOptions {
  /** Verify the server certificate chain and name. @default true */
  rejectUnauthorized?: boolean;
  /** PEM CA bundle to trust instead of the system store. @default the system store */
  ca?: string;
}

export interface DatabaseConnectOptions {
  hostPolicy: HostPolicy;
  /** Give up connecting (TCP, TLS and authentication) after this long. @default 10000 */
  connectTimeoutMs?: number;
  /** TLS settings when `target.ssl` is true. @default { rejectUnauthorized: true } */
  tls?: DatabaseTlsOptions;
  /** Server-side limit per statement. @default 30000 */
  statementTimeoutMs?: number;
}

/** What an engine session needs to connect and read, resolved and clamped. */
export interface SessionSettings {
  /** Rows sampled per table. */
  sampleSize: number;
  /** Cell bytes handed on; the server already truncates to this many characters. */
  maxCellBytes: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  /** Sampled text bytes per table at most; sampling stops early past it. */
  maxBytesPerTable: number;
  tls: Required<Pick<DatabaseTlsOptions, "rejectUnauthorized">> & DatabaseTlsOptions;
}

export const SESSION_DEFAULTS = {
  maxCellBytes: 64 * 1024,
  statementTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  maxBytesPerTable: 64 * 1024 * 1024,
} as const;

/** Client-side limit per statement beyond the server-side one: only a server that ignores its own timeout meets it. */
export const QUERY_TIMEOUT_GRACE_MS = 5_000;

/** Clamps a numeric option into `min..max` (whole numbers); a non-number is a SCAN_FAILED. */
export function clampInt(value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v)) throw new DatabaseScanError("SCAN_FAILED", `not a number: ${String(value)}`);
  return Math.min(max, Math.max(min, Math.floor(v)));
}

/** Settings for connecting only (a connection test): sampling values at their minimum. */
export function connectSettings(options: DatabaseConnectOptions): SessionSettings {
  return {
    sampleSize: 1,
    maxCellBytes: SESSION_DEFAULTS.maxCellBytes,
    statementTimeoutMs: clampInt(options.statementTimeoutMs, SESSION_DEFAULTS.statementTimeoutMs, 1, 3_600_000),
    connectTimeoutMs: clampInt(options.connectTimeoutMs, SESSION_DEFAULTS.connectTimeoutMs, 1, 600_000),
    maxBytesPerTable: SESSION_DEFAULTS.maxBytesPerTable,
    tls: { rejectUnauthorized: true, ...options.tls },
  };
}
