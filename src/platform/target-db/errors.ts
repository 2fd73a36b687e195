import { DatabaseScanError, type DatabaseTarget } from "./target.js";
import { WireLimitError } from "./wire-guard.js";

/**
 * Error classification for scanned databases: driver, SQLSTATE and MySQL errors mapped to a
 * {@link DatabaseScanError} code a user can act on. Messages never carry the password.
 */

interface DriverError {
  code?: string; // SQLSTATE (pg), symbolic code (mysql2: ER_…, Node: ECONNREFUSED)
  errno?: number; // MySQL error number
  sqlState?: string;
  message?: string;
}

/** Maps a driver failure to a code a user can act on. Messages never carry the password. */
export function toScanError(error: unknown, phase: "connect" | "query", target?: DatabaseTarget): DatabaseScanError {
  if (error instanceof DatabaseScanError) return error;
  if (error instanceof WireLimitError) return new DatabaseScanError("SCAN_FAILED", error.message);
  const e = (error ?? {}) as DriverError;
  const where = target ? `${target.host}:${target.port}` : "the server";
  const text = safeMessage(error);
  const code = e.code ?? "";
  // Network
  if (["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE", "EADDRNOTAVAIL"].includes(code)) {
    return new DatabaseScanError("CONNECTION_FAILED", `cannot connect to ${where}: ${code}`);
  }
  if (code === "ETIMEDOUT" || /timeout expired|connection timeout/i.test(text)) {
    return new DatabaseScanError("CONNECTION_FAILED", `cannot connect to ${where}: timed out`);
  }
  // PostgreSQL SQLSTATEs
  switch (code) {
    case "28P01":
    case "28000":
      return new DatabaseScanError("AUTHENTICATION_FAILED", `authentication failed: ${text}`);
    case "3D000":
      return new DatabaseScanError("DATABASE_NOT_FOUND", text);
    case "42501":
      return new DatabaseScanError("PERMISSION_DENIED", text);
    case "42P01":
      return new DatabaseScanError("TABLE_NOT_FOUND", text);
    case "57014":
    case "55P03": // lock_not_available
      return new DatabaseScanError("TIMEOUT", `statement timed out: ${text}`);
    case "53300": // too_many_connections
    case "57P03": // cannot_connect_now (starting up, shutting down)
    case "08006":
    case "08001":
    case "08004":
      return new DatabaseScanError("CONNECTION_FAILED", `cannot connect to ${where}: ${text}`);
  }
  // MySQL / MariaDB error numbers
  switch (e.errno) {
    case 1045: // ER_ACCESS_DENIED_ERROR
    case 1130: // ER_HOST_NOT_PRIVILEGED
    case 1251: // ER_NOT_SUPPORTED_AUTH_MODE
    case 1698: // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
      return new DatabaseScanError("AUTHENTICATION_FAILED", `authentication failed: ${text}`);
    case 1049: // ER_BAD_DB_ERROR
      return new DatabaseScanError("DATABASE_NOT_FOUND", text);
    case 1044: // ER_DBACCESS_DENIED_ERROR (also what MySQL says for a database it will not name)
    case 1142: // ER_TABLEACCESS_DENIED_ERROR
    case 1143: // ER_COLUMNACCESS_DENIED_ERROR
    case 1227: // ER_SPECIFIC_ACCESS_DENIED_ERROR
      return new DatabaseScanError("PERMISSION_DENIED", text);
    case 1146: // ER_NO_SUCH_TABLE
      return new DatabaseScanError("TABLE_NOT_FOUND", text);
    case 1969: // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    case 3024: // ER_QUERY_TIMEOUT (MySQL MAX_EXECUTION_TIME)
    case 1205: // ER_LOCK_WAIT_TIMEOUT
      return new DatabaseScanError("TIMEOUT", `statement timed out: ${text}`);
    case 1040: // ER_CON_COUNT_ERROR
    case 1129: // ER_HOST_IS_BLOCKED
      return new DatabaseScanError("CONNECTION_FAILED", `cannot connect to ${where}: ${text}`);
  }
  if (phase === "connect") {
    if (/password|SASL|SCRAM|authentication/i.test(text)) {
      return new DatabaseScanError("AUTHENTICATION_FAILED", `authentication failed: ${text}`);
    }
    return new DatabaseScanError("CONNECTION_FAILED", `cannot connect to ${where}: ${text}`);
  }
  return new DatabaseScanError("SCAN_FAILED", text);
}

export function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}
