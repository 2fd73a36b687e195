import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import pg from "pg";
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
  tlsFor,
  type ColumnSpec,
  type EngineSession,
  type RowSink,
  type TableSpec,
} from "./session.js";
import { DatabaseScanError, QUERY_TIMEOUT_GRACE_MS, type DatabaseTarget, type SessionSettings } from "./target.js";
import { LISTING_RESPONSE_LIMIT, SMALL_MESSAGE_LIMIT, WireGuard, guardedSocket } from "./wire-guard.js";

/** PostgreSQL identifier: double quotes, embedded quotes doubled. */
export function quotePgIdent(name: string): string {
  if (name.includes("\u0000")) throw new DatabaseScanError("SCAN_FAILED", "identifier contains a NUL character");
  return `"${name.replaceAll('"', '""')}"`;
}

export class PgSession implements EngineSession {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly client: pg.Client,
    private readonly guard: WireGuard,
    /** Without `stream`: each client gets its own guarded socket. */
    private readonly config: pg.ClientConfig,
    private readonly statementTimeoutMs: number,
    readonly serverVersion: string,
  ) {}

  static async open(target: DatabaseTarget, address: string, settings: SessionSettings): Promise<PgSession> {
    const config: pg.ClientConfig = {
      host: address,
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
      ssl: target.ssl ? tlsFor(target, settings) : false,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      application_name: "dataguardian-scan",
      // Defence in depth behind the READ ONLY transactions below.
      options: "-c default_transaction_read_only=on",
      keepAlive: true,
      // A server that stops answering (a hostile one ignores statement_timeout) fails the query here.
      query_timeout: settings.statementTimeoutMs + QUERY_TIMEOUT_GRACE_MS,
    };
    const guard = new WireGuard("postgres");
    const client = guardedClient(config, guard, target.ssl);
    let connected = false; // errors before this are "connect" errors (toScanError)
    try {
      guard.limitResponse(SMALL_MESSAGE_LIMIT * 4); // start-up and the version: a few hundred bytes
      await client.connect();
      connected = true;
      const { rows } = await client.query<{ v: string }>({
        text: "SELECT current_setting('server_version') AS v",
        query_timeout: settings.connectTimeoutMs,
      } as pg.QueryConfig);
      guard.limitResponse(null);
      return new PgSession(client, guard, config, settings.statementTimeoutMs, `PostgreSQL ${cleanVersion(rows[0]?.v)}`);
    } catch (error) {
      await closePg(client);
      throw toScanError(guard.error ?? error, connected ? "query" : "connect", target);
    }
  }

  async listTables(): Promise<TableSpec[]> {
    // pg_catalog, not information_schema: information_schema hides tables the role cannot
    // read, so a role without SELECT would get an empty, "clean" result. Here every table is
    // listed with its privileges, and unreadable ones are reported as such.
    const sql = `
      SELECT n.nspname, c.relname, c.relkind::text, c.reltuples::float8, a.attname, t.typname, t.typcategory::text,
             has_schema_privilege(n.oid, 'USAGE') AND has_column_privilege(c.oid, a.attnum, 'SELECT') AS readable
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       WHERE c.relkind IN ('r', 'p', 'm')
         AND NOT c.relispartition
         AND n.nspname <> 'information_schema'
         AND n.nspname NOT LIKE 'pg\\_%'
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY n.nspname, c.relname, a.attnum`;
    const result = await this.guard.limited(SMALL_MESSAGE_LIMIT, LISTING_RESPONSE_LIMIT, "listing tables", () =>
      this.inReadOnly(async () => (await this.client.query({ text: sql, rowMode: "array" })).rows),
    );
    const tables = new Map<string, TableSpec>();
    for (const [schema, name, relkind, reltuples, column, typname, category, readable] of result as Array<
      [string, string, string, number, string, string, string, boolean]
    >) {
      checkIdentifier(schema, "schema");
      checkIdentifier(name, "table");
      checkIdentifier(column, "column");
      const source = `${schema}.${name}`;
      let table = tables.get(source);
      if (!table) {
        table = {
          schema,
          name,
          source,
          columns: [],
          estimatedRows: reltuples >= 0 ? reltuples : null,
          tablesample: relkind === "r" || relkind === "m",
        };
        tables.set(source, table);
      }
      const ident = quotePgIdent(column);
      // bytea as text is hex; 'escape' keeps printable ASCII readable and never fails.
      const expression = typname === "bytea" ? `encode(${ident}, 'escape')` : `CAST(${ident} AS text)`;
      // Geometric types and bit strings carry no text worth scanning.
      const sampled = category !== "G" && category !== "V";
      table.columns.push({ name: column, expression, readable, sampled });
    }
    return [...tables.values()];
  }

  async sample(table: TableSpec, columns: ColumnSpec[], settings: SessionSettings, sink: RowSink): Promise<void> {
    const limit = settings.sampleSize;
    // SYSTEM sampling reads whole random pages: cheap on a big table, and spread over it
    // instead of the first pages only. Stale statistics can make it come back short; then
    // the plain LIMIT below runs instead, so a sample is never smaller than the table allows.
    const useSample = table.tablesample && table.estimatedRows !== null && table.estimatedRows > 20 * limit;
    if (useSample) {
      const percent = Math.min(100, (100 * 4 * limit) / table.estimatedRows!);
      const got = await this.sampleOnce(table, columns, settings, sink, percent);
      if (got >= limit) return;
      sink.reset();
    }
    await this.sampleOnce(table, columns, settings, sink, null);
  }

  private async sampleOnce(
    table: TableSpec,
    columns: ColumnSpec[],
    settings: SessionSettings,
    sink: RowSink,
    percent: number | null,
  ): Promise<number> {
    const cellChars = settings.maxCellBytes; // chars ≥ bytes/4; the exact byte cut happens client-side
    const select = columns.map((c) => `left(${c.expression}, $1::int)`).join(", ");
    const from = `${quotePgIdent(table.schema)}.${quotePgIdent(table.name)}`;
    const sampleClause = percent === null ? "" : " TABLESAMPLE SYSTEM ($3::float8)";
    const values: unknown[] = [cellChars, settings.sampleSize];
    if (percent !== null) values.push(percent);
    // A cursor bounds memory: at most `batch` rows of truncated cells are held at a time.
    const batch = Math.max(1, Math.min(1000, Math.floor((16 * 1024 * 1024) / (columns.length * cellChars))));
    // What an honest server can send for one row and one FETCH: cells are cut to `cellChars`.
    const rowLimit = rowMessageLimit(columns.length, cellChars);
    return this.guard.limited(rowLimit, null, "sampling", () => this.inReadOnly(async () => {
      await this.client.query(
        `DECLARE dg_sample NO SCROLL CURSOR FOR SELECT ${select} FROM ${from}${sampleClause} LIMIT $2::int`,
        values,
      );
      let total = 0;
      let bytes = 0;
      while (total < settings.sampleSize && bytes < settings.maxBytesPerTable) {
        this.guard.limitResponse(batch * rowLimit);
        const { rows } = await this.client.query<unknown[]>({ text: `FETCH ${batch} FROM dg_sample`, rowMode: "array" });
        this.guard.limitResponse(null);
        if (rows.length === 0) break;
        for (const row of rows) bytes += bytesOf(capCells(row, cellChars));
        total += rows.length;
        await sink.rows(rows);
        if (rows.length < batch) break;
      }
      return total;
    }));
  }

  private async inReadOnly<T>(work: () => Promise<T>): Promise<T> {
    await this.client.query("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      // SET LOCAL through set_config, so the value is bound: ends with the transaction.
      await this.client.query("SELECT set_config('statement_timeout', $1, true)", [String(this.statementTimeoutMs)]);
      const result = await work();
      await this.client.query("COMMIT");
      return result;
    } catch (error) {
      await this.client.query("ROLLBACK").catch(noop);
      throw error;
    }
  }

  async cancelRunning(): Promise<void> {
    const pid = (this.client as unknown as { processID: number | null }).processID;
    if (!pid) return;
    const canceller = guardedClient({ ...this.config, application_name: "dataguardian-scan-cancel" }, new WireGuard("postgres"), Boolean(this.config.ssl));
    try {
      await canceller.connect();
      await canceller.query("SELECT pg_cancel_backend($1)", [pid]);
    } finally {
      await closePg(canceller);
    }
  }

  close(): Promise<void> {
    this.closing ??= closePg(this.client);
    return this.closing;
  }
}

/**
 * A client whose socket is watched by `guard`: from the first byte in clear text, and after
 * an SSL upgrade on the TLS socket pg reads from (the raw bytes are ciphertext by then; the
 * one byte before them is the server's SSL answer).
 */
function guardedClient(config: pg.ClientConfig, guard: WireGuard, ssl: boolean): pg.Client {
  const client = new pg.Client({ ...config, stream: () => guardedSocket(guard, ssl ? { skipFirst: 1, thenStop: true } : {}) });
  client.on("error", noop); // a server-side disconnect must not crash the process; the next query fails
  if (ssl) {
    const connection = (client as unknown as { connection: { once(e: string, f: () => void): void; stream: Duplex } }).connection;
    connection.once("sslconnect", () => guard.watch(connection.stream));
  }
  return client;
}

async function closePg(client: pg.Client): Promise<void> {
  try {
    await withTimeout(client.end(), CLOSE_BUDGET_MS);
  } catch {
    (client as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
  }
}
