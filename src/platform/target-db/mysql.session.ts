import { Socket } from "node:net";
import mysql from "mysql2";
import { withTimeout } from "../../shared/async.js";
import { toScanError } from "./errors.js";
import { CLOSE_BUDGET_MS, bytesOf, noop, type ColumnSpec, type EngineSession, type RowSink, type TableSpec } from "./session.js";
import { DatabaseScanError, type DatabaseTarget, type SessionSettings } from "./target.js";

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
    private readonly config: mysql.ConnectionOptions,
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
      stream: () => {
        const socket = new Socket();
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        return socket.connect(port, address);
      },
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
    try {
      conn = await mysqlConnect(config);
      const [[version]] = (await mysqlQuery(conn, "SELECT VERSION()")) as [[string]];
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
      return new MysqlSession(conn, config, target.database, mariadb ? `MariaDB ${version}` : `MySQL ${version}`);
    } catch (error) {
      if (conn) await closeMysql(conn);
      throw toScanError(error, "connect", target);
    }
  }

  async listTables(): Promise<TableSpec[]> {
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
      await this.stream(sql, values, settings, sink);
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
        const cells = row as unknown[];
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
    const killer = await mysqlConnect({ ...this.config });
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

function mysqlConnect(config: mysql.ConnectionOptions): Promise<MysqlConnection> {
  return new Promise((resolve, reject) => {
    const conn = mysql.createConnection(config);
    conn.on("error", noop); // a dropped connection fails the next query; it must not crash the process
    conn.connect((error) => (error ? (conn.destroy(), reject(error)) : resolve(conn)));
  });
}

function mysqlQuery(conn: MysqlConnection, sql: string, values: unknown[] = []): Promise<unknown[][]> {
  return new Promise((resolve, reject) => {
    conn.query({ sql, values, rowsAsArray: true }, (error, rows) =>
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
