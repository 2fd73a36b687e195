import { Socket, isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import mysql from "mysql2";
import pg from "pg";
import { checkHostAllowed, type HostPolicy } from "../../../platform/net/host-policy.js";
import { detect as defaultDetect } from "../../detection/index.js";
import { ScanAbortedError, type ScanContext, type ScanFinding } from "./scanner.types.js";

/**
 * Database scanner: samples rows of every user table of a PostgreSQL or MySQL/MariaDB
 * database, runs the detection engine on each cell with the column name as context, and
 * reports one finding per (table, column, type).
 *
 * Safety rules, each for a reason:
 * - the host is checked against {@link HostPolicy} on its resolved addresses before any
 *   socket opens, and the connection goes to the checked address (no DNS rebinding);
 * - reads run in READ ONLY transactions with a server-side statement timeout, every
 *   identifier is quoted and every value bound: table and column names come from the
 *   scanned database, which a user controls;
 * - an abort cancels the running statement on the server (a query blocked on a lock would
 *   otherwise live on after we close the socket) and closes every connection;
 * - nothing is ever invented: connection, authentication and permission failures end the
 *   scan with a {@link DatabaseScanError}, never with an empty or sample result.
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
}

/** A table left out of the results, with why. */
export interface SkippedTable {
  source: string;
  code: DatabaseScanErrorCode;
  message: string;
}

export interface DatabaseScanOptions extends DatabaseConnectOptions {
  /** Rows sampled per table; clamped to 1..{@link MAX_SAMPLE_SIZE}. */
  sampleSize: number;
  /** Only these tables, as "schema.table" or "table"; all user tables when null/empty. @default null */
  tables?: string[] | null;
  /** Tables scanned at most (in schema, name order). @default 200 */
  maxTables?: number;
  /** Columns sampled per table at most (in column order). @default 200 */
  maxColumns?: number;
  /** Cell bytes handed to detection; the server already truncates. @default 65536 */
  maxCellBytes?: number;
  /** Server-side limit per statement. @default 30000 */
  statementTimeoutMs?: number;
  /** Sampled text bytes per table at most; sampling stops early past it. @default 67108864 */
  maxBytesPerTable?: number;
  /** Called for every table that could not be read (permission, timeout, dropped meanwhile). */
  onTableSkipped?: (skipped: SkippedTable) => void;
  /** The detection function. @default the engine's detect */
  detect?: typeof defaultDetect;
}

export const MAX_SAMPLE_SIZE = 10_000;
const DEFAULTS = {
  maxTables: 200,
  maxColumns: 200,
  maxCellBytes: 64 * 1024,
  statementTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  maxBytesPerTable: 64 * 1024 * 1024,
} as const;
/** From the abort to the throw: cancel on the server, let the statement fail, close. */
const ABORT_CANCEL_BUDGET_MS = 600;
const ABORT_SETTLE_BUDGET_MS = 250;
const CLOSE_BUDGET_MS = 100;

// ---------------------------------------------------------------------------------------
// Public entry points

export async function scanDatabase(
  target: DatabaseTarget,
  options: DatabaseScanOptions,
  ctx: ScanContext,
): Promise<ScanFinding[]> {
  const settings = resolveSettings(options);
  const detect = options.detect ?? defaultDetect;
  throwIfAborted(ctx.signal);
  ctx.onProgress({ itemsProcessed: 0, itemsTotal: null, stage: `connecting to ${target.host}` });
  const address = await vetHost(target.host, options.hostPolicy);
  const session = await guard(ctx.signal, null, () => openSession(target, address, settings));
  try {
    ctx.onProgress({ itemsProcessed: 0, itemsTotal: null, stage: "listing tables" });
    const all = await guard(ctx.signal, session, () => session.listTables());
    const tables = selectTables(all, options.tables ?? null).slice(0, settings.maxTables);
    const findings: ScanFinding[] = [];
    const failures: SkippedTable[] = [];
    let scanned = 0;
    for (const [index, table] of tables.entries()) {
      throwIfAborted(ctx.signal);
      ctx.onProgress({ itemsProcessed: index, itemsTotal: tables.length, stage: `sampling ${table.source}` });
      const columns = table.columns.filter((c) => c.readable && c.sampled).slice(0, settings.maxColumns);
      if (columns.length === 0) {
        if (table.columns.some((c) => c.sampled && !c.readable)) {
          const failure: SkippedTable = {
            source: table.source,
            code: "PERMISSION_DENIED",
            message: `${table.source}: no SELECT privilege on any of its columns`,
          };
          failures.push(failure);
          options.onTableSkipped?.(failure);
        } else {
          scanned++; // no column holds text (only geometry, bit…): read, and nothing to find
        }
        continue;
      }
      const aggregate = new ColumnAggregate(table, columns, detect, ctx.hashKey, settings.maxCellBytes);
      try {
        await guard(ctx.signal, session, () =>
          session.sample(table, columns, settings, {
            reset: () => aggregate.reset(),
            rows: async (rows) => {
              throwIfAborted(ctx.signal);
              aggregate.add(rows);
              await yieldToEventLoop(); // keep the abort listener and other scans responsive
            },
          }),
        );
      } catch (error) {
        const failure = classifyTableError(error, table.source); // throws when the scan cannot go on
        failures.push(failure);
        options.onTableSkipped?.(failure);
        continue;
      }
      scanned++;
      findings.push(...aggregate.findings());
    }
    if (tables.length > 0 && scanned === 0 && failures.length > 0) {
      const code = failures.some((f) => f.code === "PERMISSION_DENIED") ? "PERMISSION_DENIED" : failures[0]!.code;
      throw new DatabaseScanError(
        code,
        `no table could be read (${failures.length} of ${tables.length} failed); first: ${failures[0]!.message}`,
      );
    }
    ctx.onProgress({ itemsProcessed: tables.length, itemsTotal: tables.length, stage: "done" });
    return findings;
  } catch (error) {
    if (error instanceof ScanAbortedError || error instanceof DatabaseScanError) throw error;
    throw toScanError(error, "query", target);
  } finally {
    await session.close();
  }
}

export async function testDatabaseConnection(
  target: DatabaseTarget,
  options: DatabaseConnectOptions,
): Promise<{ ok: true; serverVersion: string } | { ok: false; code: DatabaseScanErrorCode; message: string }> {
  try {
    const address = await vetHost(target.host, options.hostPolicy);
    const session = await openSession(target, address, resolveSettings({ ...options, sampleSize: 1 }));
    try {
      return { ok: true, serverVersion: session.serverVersion };
    } finally {
      await session.close();
    }
  } catch (error) {
    if (error instanceof DatabaseScanError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: "SCAN_FAILED", message: safeMessage(error) };
  }
}

/** PostgreSQL identifier: double quotes, embedded quotes doubled. */
export function quotePgIdent(name: string): string {
  if (name.includes("\u0000")) throw new DatabaseScanError("SCAN_FAILED", "identifier contains a NUL character");
  return `"${name.replaceAll('"', '""')}"`;
}

/** MySQL/MariaDB identifier: backticks, embedded backticks doubled (independent of sql_mode). */
export function quoteMysqlIdent(name: string): string {
  if (name.includes("\u0000")) throw new DatabaseScanError("SCAN_FAILED", "identifier contains a NUL character");
  return `\`${name.replaceAll("`", "``")}\``;
}

// ---------------------------------------------------------------------------------------
// Settings, host vetting, table selection

interface Settings {
  sampleSize: number;
  maxTables: number;
  maxColumns: number;
  maxCellBytes: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  maxBytesPerTable: number;
  tls: Required<Pick<DatabaseTlsOptions, "rejectUnauthorized">> & DatabaseTlsOptions;
}

function resolveSettings(options: DatabaseScanOptions): Settings {
  const int = (value: number | undefined, fallback: number, min: number, max: number) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v)) throw new DatabaseScanError("SCAN_FAILED", `not a number: ${String(value)}`);
    return Math.min(max, Math.max(min, Math.floor(v)));
  };
  return {
    sampleSize: int(options.sampleSize, 100, 1, MAX_SAMPLE_SIZE),
    maxTables: int(options.maxTables, DEFAULTS.maxTables, 1, 100_000),
    maxColumns: int(options.maxColumns, DEFAULTS.maxColumns, 1, 10_000),
    maxCellBytes: int(options.maxCellBytes, DEFAULTS.maxCellBytes, 16, 16 * 1024 * 1024),
    statementTimeoutMs: int(options.statementTimeoutMs, DEFAULTS.statementTimeoutMs, 1, 3_600_000),
    connectTimeoutMs: int(options.connectTimeoutMs, DEFAULTS.connectTimeoutMs, 1, 600_000),
    maxBytesPerTable: int(options.maxBytesPerTable, DEFAULTS.maxBytesPerTable, 1024, 2 ** 40),
    tls: { rejectUnauthorized: true, ...options.tls },
  };
}

async function vetHost(host: string, policy: HostPolicy): Promise<string> {
  const verdict = await checkHostAllowed(policy, host);
  if (!verdict.ok) throw new DatabaseScanError("HOST_NOT_ALLOWED", `host not allowed: ${verdict.reason}`);
  // Prefer IPv4 when both families answer: database servers more often listen on v4 only.
  return verdict.addresses.find((a) => isIP(a) === 4) ?? verdict.addresses[0]!;
}

interface ColumnSpec {
  name: string;
  /** Server-side expression producing text, with the identifier already quoted. */
  expression: string;
  readable: boolean;
  /** False for types that hold no text (geometry, bit): not sampled. */
  sampled: boolean;
}

interface TableSpec {
  schema: string;
  name: string;
  source: string;
  columns: ColumnSpec[];
  /** Planner's row estimate, when the engine has one: decides TABLESAMPLE. */
  estimatedRows: number | null;
  tablesample: boolean;
}

function selectTables(all: TableSpec[], wanted: string[] | null): TableSpec[] {
  if (!wanted || wanted.length === 0) return all;
  const chosen = new Map<string, TableSpec>();
  const missing: string[] = [];
  for (const entry of wanted) {
    const exact = all.filter((t) => t.source === entry || t.name === entry);
    const matches = exact.length > 0 ? exact : all.filter((t) => t.source.toLowerCase() === entry.toLowerCase());
    if (matches.length === 0) missing.push(entry);
    for (const t of matches) chosen.set(t.source, t);
  }
  if (missing.length > 0) {
    throw new DatabaseScanError("TABLE_NOT_FOUND", `table not found: ${missing.map((m) => JSON.stringify(m)).join(", ")}`);
  }
  return all.filter((t) => chosen.has(t.source));
}

// ---------------------------------------------------------------------------------------
// Aggregation: one finding per (table, column, type)

type Detection = ReturnType<typeof defaultDetect>[number];

interface Aggregate {
  type: Detection["type"];
  severity: Detection["severity"];
  maxConfidence: number;
  example: Detection;
  occurrences: number;
  rows: number;
}

const SEVERITY_RANK: Record<string, number> = { LOW: 0, MEDIUM: 1, HIGH: 2, CRITICAL: 3 };

class ColumnAggregate {
  private rowsSeen = 0;
  private perColumn: Array<Map<string, Aggregate>> = [];

  constructor(
    private readonly table: TableSpec,
    private readonly columns: ColumnSpec[],
    private readonly detect: typeof defaultDetect,
    private readonly hashKey: string,
    private readonly maxCellBytes: number,
  ) {
    this.reset();
  }

  reset(): void {
    this.rowsSeen = 0;
    this.perColumn = this.columns.map(() => new Map());
  }

  add(rows: ReadonlyArray<ReadonlyArray<unknown>>): void {
    for (const row of rows) {
      this.rowsSeen++;
      for (let i = 0; i < this.columns.length; i++) {
        const cell = row[i];
        if (cell === null || cell === undefined) continue;
        const text = truncateUtf8(String(cell), this.maxCellBytes);
        if (text.length === 0) continue;
        const detections = this.detect(text, { hashKey: this.hashKey, contextHint: this.columns[i]!.name });
        const seenInRow = new Set<string>();
        for (const d of detections) {
          const map = this.perColumn[i]!;
          let agg = map.get(d.type);
          if (!agg) {
            agg = { type: d.type, severity: d.severity, maxConfidence: d.confidence, example: d, occurrences: 0, rows: 0 };
            map.set(d.type, agg);
          }
          agg.occurrences += Math.max(1, d.occurrences);
          if (d.confidence > agg.maxConfidence) {
            agg.maxConfidence = d.confidence;
            agg.example = d;
          }
          if ((SEVERITY_RANK[d.severity] ?? 0) > (SEVERITY_RANK[agg.severity] ?? 0)) agg.severity = d.severity;
          if (!seenInRow.has(d.type)) {
            seenInRow.add(d.type);
            agg.rows++;
          }
        }
      }
    }
  }

  findings(): ScanFinding[] {
    const out: ScanFinding[] = [];
    this.columns.forEach((column, i) => {
      for (const agg of this.perColumn[i]!.values()) {
        out.push({
          type: agg.type,
          severity: agg.severity,
          confidence: agg.maxConfidence,
          maskedValue: agg.example.maskedValue,
          valueHash: agg.example.valueHash,
          occurrences: agg.occurrences,
          source: this.table.source,
          table: this.table.name,
          column: column.name,
          line: null,
          matchRatio: this.rowsSeen === 0 ? 0 : agg.rows / this.rowsSeen,
        });
      }
    });
    return out;
  }
}

/** Cuts to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text; // fast path: cannot exceed (≤3 bytes per UTF-16 unit)
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end).toString("utf8");
}

// ---------------------------------------------------------------------------------------
// Cancellation

const ABORTED = Symbol("aborted");

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new ScanAbortedError("scan cancelled");
}

/**
 * Runs `op`; when `signal` aborts first, cancels the running statement on the server,
 * gives it a moment to fail, and throws {@link ScanAbortedError} — within one second.
 */
async function guard<T>(signal: AbortSignal, session: EngineSession | null, op: () => Promise<T>): Promise<T> {
  throwIfAborted(signal);
  const running = op();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const winner = await Promise.race([running, aborted]);
    if (winner === ABORTED) {
      running.catch(() => undefined); // its failure is expected now
      if (session) {
        await withTimeout(session.cancelRunning(), ABORT_CANCEL_BUDGET_MS).catch(() => undefined);
        await withTimeout(running.then(noop, noop), ABORT_SETTLE_BUDGET_MS).catch(() => undefined);
      } else {
        // Still connecting: openSession closes what it opened when `running` settles.
        running.then((s) => (isSession(s) ? s.close() : undefined), noop);
      }
      throw new ScanAbortedError("scan cancelled");
    }
    return winner as T;
  } catch (error) {
    if (signal.aborted && !(error instanceof ScanAbortedError)) throw new ScanAbortedError("scan cancelled");
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

function isSession(value: unknown): value is EngineSession {
  return typeof value === "object" && value !== null && "cancelRunning" in value && "close" in value;
}

function noop(): void {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------
// Engines

interface RowSink {
  /** Discard everything received so far (a sampling attempt is being retried). */
  reset(): void;
  rows(rows: unknown[][]): Promise<void>;
}

interface EngineSession {
  readonly serverVersion: string;
  listTables(): Promise<TableSpec[]>;
  sample(table: TableSpec, columns: ColumnSpec[], settings: Settings, sink: RowSink): Promise<void>;
  /** Cancels the statement running on the main connection, from a second connection. */
  cancelRunning(): Promise<void>;
  /** Idempotent; never throws. */
  close(): Promise<void>;
}

async function openSession(target: DatabaseTarget, address: string, settings: Settings): Promise<EngineSession> {
  switch (target.engine) {
    case "POSTGRESQL":
      return PgSession.open(target, address, settings);
    case "MYSQL":
      return MysqlSession.open(target, address, settings);
    default:
      throw new DatabaseScanError("SCAN_FAILED", `unsupported engine ${String((target as { engine: unknown }).engine)}`);
  }
}

/** TLS options that verify the certificate against the name the user gave, not the vetted IP. */
function tlsFor(target: DatabaseTarget, settings: Settings) {
  const name = target.host.replace(/^\[(.*)\]$/, "$1");
  return {
    rejectUnauthorized: settings.tls.rejectUnauthorized,
    ...(settings.tls.ca ? { ca: settings.tls.ca } : {}),
    ...(isIP(name) === 0 ? { servername: name } : {}),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
}

function bytesOf(row: unknown[]): number {
  let n = 0;
  for (const cell of row) if (typeof cell === "string") n += cell.length;
  return n;
}

// ----- PostgreSQL ----------------------------------------------------------------------

class PgSession implements EngineSession {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly client: pg.Client,
    private readonly config: pg.ClientConfig,
    private readonly statementTimeoutMs: number,
    readonly serverVersion: string,
  ) {}

  static async open(target: DatabaseTarget, address: string, settings: Settings): Promise<PgSession> {
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
    };
    const client = new pg.Client(config);
    client.on("error", noop); // a server-side disconnect must not crash the process; the next query fails
    try {
      await client.connect();
      const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      return new PgSession(client, config, settings.statementTimeoutMs, `PostgreSQL ${rows[0]!.v}`);
    } catch (error) {
      await closePg(client);
      throw toScanError(error, "connect", target);
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
    const result = await this.inReadOnly(async () => (await this.client.query({ text: sql, rowMode: "array" })).rows);
    const tables = new Map<string, TableSpec>();
    for (const [schema, name, relkind, reltuples, column, typname, category, readable] of result as Array<
      [string, string, string, number, string, string, string, boolean]
    >) {
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

  async sample(table: TableSpec, columns: ColumnSpec[], settings: Settings, sink: RowSink): Promise<void> {
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
    settings: Settings,
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
    return this.inReadOnly(async () => {
      await this.client.query(
        `DECLARE dg_sample NO SCROLL CURSOR FOR SELECT ${select} FROM ${from}${sampleClause} LIMIT $2::int`,
        values,
      );
      let total = 0;
      let bytes = 0;
      while (total < settings.sampleSize && bytes < settings.maxBytesPerTable) {
        const { rows } = await this.client.query<unknown[]>({ text: `FETCH ${batch} FROM dg_sample`, rowMode: "array" });
        if (rows.length === 0) break;
        for (const row of rows) bytes += bytesOf(row);
        total += rows.length;
        await sink.rows(rows);
        if (rows.length < batch) break;
      }
      return total;
    });
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
    const canceller = new pg.Client({ ...this.config, application_name: "dataguardian-scan-cancel" });
    canceller.on("error", noop);
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

async function closePg(client: pg.Client): Promise<void> {
  try {
    await withTimeout(client.end(), CLOSE_BUDGET_MS);
  } catch {
    (client as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
  }
}

// ----- MySQL / MariaDB -----------------------------------------------------------------

type MysqlConnection = mysql.Connection;

class MysqlSession implements EngineSession {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly conn: MysqlConnection,
    private readonly config: mysql.ConnectionOptions,
    private readonly database: string,
    readonly serverVersion: string,
  ) {}

  static async open(target: DatabaseTarget, address: string, settings: Settings): Promise<MysqlSession> {
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

  async sample(table: TableSpec, columns: ColumnSpec[], settings: Settings, sink: RowSink): Promise<void> {
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
  private stream(sql: string, values: unknown[], settings: Settings, sink: RowSink): Promise<void> {
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

// ---------------------------------------------------------------------------------------
// Errors

interface DriverError {
  code?: string; // SQLSTATE (pg), symbolic code (mysql2: ER_…, Node: ECONNREFUSED)
  errno?: number; // MySQL error number
  sqlState?: string;
  message?: string;
}

/** Maps a driver failure to a code a user can act on. Messages never carry the password. */
function toScanError(error: unknown, phase: "connect" | "query", target?: DatabaseTarget): DatabaseScanError {
  if (error instanceof DatabaseScanError) return error;
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

/**
 * Per-table failures that skip the table (no privilege, statement timeout, dropped while we
 * scanned); anything else (connection lost, abort…) is thrown and ends the scan.
 */
function classifyTableError(error: unknown, source: string): SkippedTable {
  if (error instanceof ScanAbortedError) throw error;
  const mapped = toScanError(error, "query");
  if (mapped.code === "PERMISSION_DENIED" || mapped.code === "TIMEOUT" || mapped.code === "TABLE_NOT_FOUND") {
    return { source, code: mapped.code, message: `${source}: ${mapped.message}` };
  }
  throw mapped;
}

function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}
