/** The client for scanned ("target") databases; see target.ts for the rules it keeps. */
export {
  DatabaseScanError,
  SESSION_DEFAULTS,
  clampInt,
  connectSettings,
  type DatabaseConnectOptions,
  type DatabaseScanErrorCode,
  type DatabaseTarget,
  type DatabaseTlsOptions,
  type SessionSettings,
} from "./target.js";
export type { ColumnSpec, EngineSession, RowSink, TableSpec } from "./session.js";
export { connectTarget, openSession, testDatabaseConnection, vetHost, type ConnectionTestOutcome } from "./connect.js";
export { safeMessage, toScanError, unreachable } from "./errors.js";
export { quotePgIdent } from "./pg.session.js";
export { quoteMysqlIdent } from "./mysql.session.js";
