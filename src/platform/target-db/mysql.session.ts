import type { Duplex } from "node:stream";
import mysql from "mysql2";
import { withTimeout } from "../../shared/async.js";
import { toScanError } from "./errors.js";
import {
  CLOSE_BUDGET_MS,
  bytesOf,
  capCells,
  checkIdentifier,
  cleanVersion,
  noop,
  rowMessageLimit,
  type ColumnSpec,
  type EngineSession,
  type RowSink,
  type TableSpec,
} from "./session.js";
import { DatabaseScanError, QUERY_TIMEOUT_GRACE_MS, type DatabaseTarget, type SessionSettings } from "./target.js";
import { LISTING_RESPONSE_LIMIT, SMALL_MESSAGE_LIMIT, WireGuard, guardedSocket } from "./wire-guard.js";

/** MySQL/MariaDB identifier: backticks, embedded backticks doubled (independent of sql_mode). */
export function quoteMysqlIdent(name: string): string {
  if (name.includes("\u0000")) throw new DatabaseScanError("SCAN_FAILED", "identifier contains a NUL character");
  return `\`${name.replaceAll("`", "``")}\``;
}

type MysqlConnection = mysql.Connection;

export class MysqlSession implements EngineSession {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly conn: MysqlConnection,
    private readonly guard: WireGuard,
    /** Without `stream`: every connection gets its own guarded socket ({@link mysqlConnect}). */
    private readonly config: mysql.ConnectionOptions,
    private readonly address: string,
    private readonly database: string,
    readonly serverVersion: string,
  ) {}

  static async open(target: DatabaseTarget, address: string, settings: SessionSettings): Promise<MysqlSession> {
    const port = target.port;
    const config: mysql.ConnectionOptions = {
      // mysql2 uses `host` for TLS SNI and certificate checks only, because `stream` opens
      // the socket itself: to the vetted address, never to a second DNS answer.
      host: target.host.replace(/^\[(.*)\]$/, "$1"),
      port,
      user: target.user,
      password: target.password,
      database: target.database,
      connectTimeout: settings.connectTimeoutMs,
      charset: "utf8mb4_general_ci",
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      multipleStatements: false,
      ...(target.ssl
        ? {
            ssl: {
              rejectUnauthorized: settings.tls.rejectUnauthorized,
              verifyIdentity: settings.tls.rejectUnauthorized,
              ...(settings.tls.ca ? { ca: settings.tls.ca } : {}),
            },
          }
        : {}),
    };
    let conn: MysqlConnection | undefined;
    const guard = new WireGuard("mysql");
    try {
      guard.limitResponse(SMALL_MESSAGE_LIMIT * 4); // handshake, version and settings: a few hundred bytes
      conn = await mysqlConnect(config, address, guard); // errors before this are "connect" errors (toScanError)
      QUERY_TIMEOUTS.set(conn, settings.connectTimeoutMs); // the version and settings belong to connecting
      const [[rawVersion]] = (await mysqlQuery(conn, "SELECT VERSION()")) as [[string]];
      const version = cleanVersion(rawVersion);
      const mariadb = /mariadb/i.test(version);
      const seconds = Math.max(1, Math.ceil(settings.statementTimeoutMs / 1000));
      if (mariadb) {
        await mysqlQuery(conn, "SET SESSION max_statement_time = ?", [settings.statementTimeoutMs / 1000]);
      } else {
        await mysqlQuery(conn, "SET SESSION MAX_EXECUTION_TIME = ?", [settings.statementTimeoutMs]);
      }
      // MAX_EXECUTION_TIME does not cover metadata-lock waits on every version: bound them too.
      await mysqlQuery(conn, "SET SESSION lock_wait_timeout = ?", [seconds]);
      await mysqlQuery(conn, "SET SESSION TRANSACTION READ ONLY");
      guard.limitResponse(null);
      QUERY_TIMEOUTS.set(conn, settings.statementTimeoutMs + QUERY_TIMEOUT_GRACE_MS);
      return new MysqlSession(conn, guard, config, address, target.database, mariadb ? `MariaDB ${version}` : `MySQL ${version}`);
    } catch (error) {
      if (conn) await closeMysql(conn);
      throw toScanError(guard.error ?? error, conn ? "query" : "connect", target);
    }
  }

  listTables(): Promise<TableSpec[]> {
    return this.guard.limited(SMALL_MESSAGE_LIMIT, LISTING_RESPONSE_LIMIT, "listing tables", () => this.readCatalogue());
  }

  private async readCatalogue(): Promise<TableSpec[]> {
    // One database is one schema in MySQL: only the target database is scanned, so the
    // system schemas (mysql, sys, information_schema, performance_schema) never are.
    const tables = (await mysqlQuery(
      this.conn,
      `SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
        ORDER BY TABLE_NAME`,
      [this.database],
    )) as Array<[string, string | number | null]>;
    const columns = (await mysqlQuery(
      this.conn,
      `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
      [this.database],
    )) as Array<[string, string, string]>;
    const byName = new Map<string, TableSpec>();
    for (const [name, rows] of tables) {
      checkIdentifier(name, "table");
      byName.set(name, {
        schema: this.database,
        name,
        source: `${this.database}.${name}`,
        columns: [],
        estimatedRows: rows === null ? null : Number(rows),
        tablesample: false,
      });
    }
    for (const [tableName, column, dataType] of columns) {
      const table = byName.get(tableName);
      if (!table) continue; // a view
      checkIdentifier(column, "column");
      const ident = quoteMysqlIdent(column);
      const type = dataType.toLowerCase();
      const binary = /^(binary|varbinary|tinyblob|blob|mediumblob|longblob)$/.test(type);
      const sampled = !/^(bit|geometry|point|linestring|polygon|multipoint|multilinestring|multipolygon|geometrycollection|geomcollection)$/.test(type);
      const expression = binary ? `CONVERT(${ident} USING utf8mb4)` : `CAST(${ident} AS CHAR)`;
      // information_schema only shows columns this user has some privilege on.
      table.columns.push({ name: column, expression, readable: true, sampled });
    }
    return [...byName.values()];
  }

  async sample(table: TableSpec, columns: ColumnSpec[], settings: SessionSettings, sink: RowSink): Promise<void> {
    const select = columns.map((c) => `LEFT(${c.expression}, ?)`).join(", ");
    const sql = `SELECT ${select} FROM ${quoteMysqlIdent(table.schema)}.${quoteMysqlIdent(table.name)} LIMIT ?`;
    const values = [...columns.map(() => settings.maxCellBytes), settings.sampleSize];
    await mysqlQuery(this.conn, "START TRANSACTION READ ONLY");
    try {
      await this.guard.limited(rowMessageLimit(columns.length, settings.maxCellBytes), null, "sampling", () =>
        this.stream(sql, values, settings, sink),
      );
      await mysqlQuery(this.conn, "COMMIT");
    } catch (error) {
      await mysqlQuery(this.conn, "ROLLBACK").catch(noop);
      throw error;
    }
  }

  /**
   * Streams rows (mysql2 emits them one by one, nothing is buffered) in batches to `sink`,
   * pausing the socket while detection catches up. Past the byte budget further rows are
   * dropped (the LIMIT still bounds the transfer); killing the statement instead could race
   * with the next one on this connection.
   */
  private stream(sql: string, values: unknown[], settings: SessionSettings, sink: RowSink): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const query = this.conn.query({ sql, values, rowsAsArray: true });
      let pending: unknown[][] = [];
      let bytes = 0;
      let failed = false;
      let chain: Promise<void> = Promise.resolve();
      const resume = () => this.conn.resume();
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        resume();
        reject(error);
      };
      const deliver = () => {
        const rows = pending;
        pending = [];
        if (rows.length === 0) return;
        chain = chain.then(() => (failed ? undefined : sink.rows(rows)));
        chain.catch(fail);
      };
      query.on("result", (row: unknown) => {
        if (failed || bytes >= settings.maxBytesPerTable) return;
        const cells = capCells(row as unknown[], settings.maxCellBytes);
        pending.push(cells);
        bytes += bytesOf(cells);
        if (pending.length >= 200) {
          this.conn.pause();
          deliver();
          chain.then(resume, resume);
        }
      });
      query.on("error", (error: Error) => fail(error));
      query.on("end", () => {
        if (failed) return;
        deliver();
        chain.then(resolve, fail);
      });
    });
  }

  async cancelRunning(): Promise<void> {
    const threadId = this.conn.threadId;
    if (!Number.isSafeInteger(threadId)) return;
    const killer = await mysqlConnect(this.config, this.address, new WireGuard("mysql"));
    QUERY_TIMEOUTS.set(killer, this.config.connectTimeout ?? 10_000);
    try {
      await mysqlQuery(killer, `KILL QUERY ${threadId}`); // an integer from the server, not input
    } finally {
      await closeMysql(killer);
    }
  }

  close(): Promise<void> {
    this.closing ??= closeMysql(this.conn);
    return this.closing;
  }
}

/**
 * Connects through a socket to the vetted `address` (mysql2 uses `config.host` only for TLS
 * SNI and certificate checks), watched by `guard`: in clear text from the first byte, and
 * after a TLS upgrade on the TLS socket mysql2 reads from. mysql2 has no event for that
 * upgrade, so this connection's `startTLS` is wrapped (mysql2 3.x: it assigns the TLS socket
 * to `this.stream` before returning).
 */
function mysqlConnect(config: mysql.ConnectionOptions, address: string, guard: WireGuard): Promise<MysqlConnection> {
  return new Promise((resolve, reject) => {
    const port = config.port ?? 3306;
    const conn = mysql.createConnection({
      ...config,
      stream: () => {
        const socket = guardedSocket(guard);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        return socket.connect(port, address);
      },
    });
    const internal = conn as unknown as { startTLS?: (onSecure: (error?: Error) => void) => void; stream: Duplex };
    const startTLS = internal.startTLS;
    if (typeof startTLS === "function") {
      internal.startTLS = function (this: typeof internal, onSecure) {
        startTLS.call(this, onSecure);
        guard.watch(this.stream);
      };
    }
    conn.on("error", noop); // a dropped connection fails the next query; it must not crash the process
    conn.connect((error) => (error ? (conn.destroy(), reject(error)) : resolve(conn)));
  });
}

/**
 * Client-side time limit per statement of each connection: a server that stops answering (a
 * hostile one ignores MAX_EXECUTION_TIME) fails the statement instead of holding the scan.
 */
const QUERY_TIMEOUTS = new WeakMap<MysqlConnection, number>();

function mysqlQuery(conn: MysqlConnection, sql: string, values: unknown[] = []): Promise<unknown[][]> {
  const timeout = QUERY_TIMEOUTS.get(conn);
  return new Promise((resolve, reject) => {
    conn.query({ sql, values, rowsAsArray: true, ...(timeout ? { timeout } : {}) }, (error, rows) =>
      error ? reject(error) : resolve(Array.isArray(rows) ? (rows as unknown[][]) : []),
    );
  });
}

async function closeMysql(conn: MysqlConnection): Promise<void> {
  try {
    await withTimeout(
      new Promise<void>((resolve) => conn.end(() => resolve())),
      CLOSE_BUDGET_MS,
    );
  } catch {
    conn.destroy();
  }
}
