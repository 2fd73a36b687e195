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

const ENGINE_NAME = { POSTGRESQL: "PostgreSQL", MYSQL: "MySQL" } as const;

/**
 * The one answer for every failure before the server has authenticated us: refused, timed
 * out, unreachable, reset, TLS refused, not a database, a malformed or oversized greeting.
 * Told apart, they would map a network for whoever asks (issue 12, point 2); the difference
 * stays in `detail`, for the server's log.
 */
export function unreachable(target: Pick<DatabaseTarget, "engine" | "host" | "port"> | undefined, detail: string): DatabaseScanError {
  const engine = target ? ENGINE_NAME[target.engine] ?? "database" : "database";
  const where = target ? ` at ${target.host}:${target.port}` : "";
  return new DatabaseScanError(
    "CONNECTION_FAILED",
    `Could not connect to a ${engine} server${where}: check the host, the port and the SSL setting, and that the server accepts connections from DataGuardian.`,
    detail,
  );
}

/**
 * Maps a driver failure to a code a user can act on. Messages never carry the password nor
 * the server's own words (a scanned server is untrusted).
 *
 * `connect`: until the driver reports the session established. Only what a database server
 * itself answered once the transport (TCP, and TLS when asked for) was up stays distinct:
 * authentication failed, no such database, no access to it. Everything else is
 * {@link unreachable}.
 * `query`: after that, by SQLSTATE / MySQL error number.
 */
export function toScanError(error: unknown, phase: "connect" | "query", target?: DatabaseTarget): DatabaseScanError {
  if (error instanceof DatabaseScanError) return error;
  const e = (error ?? {}) as DriverError;
  const text = safeMessage(error);
  const code = e.code ?? "";
  const detail = code && !text.includes(code) ? `${code}: ${text}` : text;
  const engine = target ? ENGINE_NAME[target.engine] : "The database server";
  const where = target ? ` at ${target.host}:${target.port}` : "";
  const authFailed = () =>
    new DatabaseScanError("AUTHENTICATION_FAILED", `${engine}${where} refused the user name or password (or does not let this user connect from DataGuardian).`);
  const noDatabase = () =>
    new DatabaseScanError("DATABASE_NOT_FOUND", `${engine}${where} has no database named ${JSON.stringify(target?.database ?? "")} (or does not let this user see it).`);
  if (phase === "connect") {
    switch (code) {
      case "28P01": // invalid_password
      case "28000": // invalid_authorization_specification (no pg_hba.conf entry, role cannot log in)
        return authFailed();
      case "3D000":
        return noDatabase();
    }
    switch (e.errno) {
      case 1045: // ER_ACCESS_DENIED_ERROR
      case 1698: // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
      case 1251: // ER_NOT_SUPPORTED_AUTH_MODE
        return authFailed();
      case 1049: // ER_BAD_DB_ERROR
      case 1044: // ER_DBACCESS_DENIED_ERROR (also MySQL's answer for a database it will not name)
        return noDatabase();
    }
    return unreachable(target, error instanceof WireLimitError ? error.message : detail);
  }
  if (error instanceof WireLimitError) return new DatabaseScanError("SCAN_FAILED", error.message);
  if (/^Query (read|inactivity) timeout/.test(text)) {
    return new DatabaseScanError("TIMEOUT", `${engine}${where} did not answer in time (the client-side limit beyond its statement timeout)`, detail);
  }
  // Network, after the session was established
  if (["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE", "EADDRNOTAVAIL", "ETIMEDOUT"].includes(code) || /connection terminated|timeout expired|connection timeout/i.test(text)) {
    return new DatabaseScanError("CONNECTION_FAILED", `lost the connection to ${engine}${where}`, detail);
  }
  // PostgreSQL SQLSTATEs
  switch (code) {
    case "28P01":
    case "28000":
      return authFailed();
    case "3D000":
      return noDatabase();
    case "42501":
      return new DatabaseScanError("PERMISSION_DENIED", text);
    case "42P01":
      return new DatabaseScanError("TABLE_NOT_FOUND", text);
    case "57014":
    case "55P03": // lock_not_available
      return new DatabaseScanError("TIMEOUT", `statement timed out: ${text}`);
    case "53300": // too_many_connections
    case "57P01": // admin_shutdown
    case "57P03": // cannot_connect_now (starting up, shutting down)
    case "08006":
    case "08001":
    case "08004":
      return new DatabaseScanError("CONNECTION_FAILED", `lost the connection to ${engine}${where}`, detail);
  }
  // MySQL / MariaDB error numbers
  switch (e.errno) {
    case 1045:
    case 1698:
      return authFailed();
    case 1049:
      return noDatabase();
    case 1044: // ER_DBACCESS_DENIED_ERROR
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
  }
  return new DatabaseScanError("SCAN_FAILED", text);
}

export function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}
