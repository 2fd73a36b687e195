import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import {
  DatabaseScanError,
  SESSION_DEFAULTS,
  clampInt,
  connectTarget,
  toScanError,
  type ColumnSpec,
  type DatabaseConnectOptions,
  type DatabaseScanErrorCode,
  type DatabaseTarget,
  type EngineSession,
  type SessionSettings,
  type TableSpec,
} from "../../../platform/target-db/index.js";
import { throwIfAborted, withTimeout } from "../../../shared/async.js";
import { severityRank } from "../../../shared/severity.js";
import { detect as defaultDetect } from "../../detection/index.js";
import { ScanAbortedError, type ScanContext, type ScanFinding } from "./scanner.types.js";

// The scan runner and older callers name these through the scanner; their home is platform/target-db.
export { DatabaseScanError, type DatabaseScanErrorCode, type DatabaseTarget } from "../../../platform/target-db/index.js";

/**
 * Database scanner: samples rows of every user table of a PostgreSQL or MySQL/MariaDB
 * database, runs the detection engine on each cell with the column name as context, and
 * reports one finding per (table, column, type). The client for the scanned database
 * (host vetting, engine sessions, TLS, error classification) is `platform/target-db`; this
 * file keeps table selection, aggregation and cancellation.
 *
 * - an abort cancels the running statement on the server (a query blocked on a lock would
 *   otherwise live on after we close the socket) and closes every connection;
 * - nothing is ever invented: connection, authentication and permission failures end the
 *   scan with a {@link DatabaseScanError}, never with an empty or sample result.
 */

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
  /**
   * Detection over a batch of cells in worker threads (issue 10), one list per cell; used
   * instead of `detect` when set. @default unset (`detect`, in this thread)
   */
  detectCells?: (texts: string[], hints: string[], signal: AbortSignal) => Promise<Detection[][]>;
}


export const MAX_SAMPLE_SIZE = 10_000;
const DEFAULTS = { maxTables: 200, maxColumns: 200 } as const;
/** From the abort to the throw: cancel on the server, let the statement fail, close. */
const ABORT_CANCEL_BUDGET_MS = 600;
const ABORT_SETTLE_BUDGET_MS = 250;

// ---------------------------------------------------------------------------------------
// Public entry points

export async function scanDatabase(
  target: DatabaseTarget,
  options: DatabaseScanOptions,
  ctx: ScanContext,
): Promise<ScanFinding[]> {
  const settings = resolveSettings(options);
  const detect = options.detect ?? defaultDetect;
  throwIfAborted(ctx.signal, ScanAbortedError);
  ctx.onProgress({ itemsProcessed: 0, itemsTotal: null, stage: `connecting to ${target.host}` });
  const session = await guard(ctx.signal, null, () => connectTarget(target, options.hostPolicy, settings));
  try {
    ctx.onProgress({ itemsProcessed: 0, itemsTotal: null, stage: "listing tables" });
    const all = await guard(ctx.signal, session, () => session.listTables());
    const tables = selectTables(all, options.tables ?? null).slice(0, settings.maxTables);
    const findings: ScanFinding[] = [];
    const failures: SkippedTable[] = [];
    let scanned = 0;
    for (const [index, table] of tables.entries()) {
      throwIfAborted(ctx.signal, ScanAbortedError);
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
      const aggregate = new ColumnAggregate(table, columns, detect, ctx.hashKey, settings.maxCellBytes, options.detectCells, ctx.signal, ctx.phoneRegions);
      try {
        await guard(ctx.signal, session, () =>
          session.sample(table, columns, settings, {
            reset: () => aggregate.reset(),
            rows: async (rows) => {
              throwIfAborted(ctx.signal, ScanAbortedError);
              await aggregate.add(rows);
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

// ---------------------------------------------------------------------------------------
// Settings, table selection

interface Settings extends SessionSettings {
  maxTables: number;
  maxColumns: number;
}

function resolveSettings(options: DatabaseScanOptions): Settings {
  const int = clampInt;
  return {
    sampleSize: int(options.sampleSize, 100, 1, MAX_SAMPLE_SIZE),
    maxTables: int(options.maxTables, DEFAULTS.maxTables, 1, 100_000),
    maxColumns: int(options.maxColumns, DEFAULTS.maxColumns, 1, 10_000),
    maxCellBytes: int(options.maxCellBytes, SESSION_DEFAULTS.maxCellBytes, 16, 16 * 1024 * 1024),
    statementTimeoutMs: int(options.statementTimeoutMs, SESSION_DEFAULTS.statementTimeoutMs, 1, 3_600_000),
    connectTimeoutMs: int(options.connectTimeoutMs, SESSION_DEFAULTS.connectTimeoutMs, 1, 600_000),
    maxBytesPerTable: int(options.maxBytesPerTable, SESSION_DEFAULTS.maxBytesPerTable, 1024, 2 ** 40),
    tls: { rejectUnauthorized: true, ...options.tls },
  };
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

class ColumnAggregate {
  private rowsSeen = 0;
  private perColumn: Array<Map<string, Aggregate>> = [];

  constructor(
    private readonly table: TableSpec,
    private readonly columns: ColumnSpec[],
    private readonly detect: typeof defaultDetect,
    private readonly hashKey: string,
    private readonly maxCellBytes: number,
    private readonly detectCells?: DatabaseScanOptions["detectCells"],
    private readonly signal?: AbortSignal,
    private readonly phoneRegions?: readonly string[],
  ) {
    this.reset();
  }

  reset(): void {
    this.rowsSeen = 0;
    this.perColumn = this.columns.map(() => new Map());
  }

  async add(rows: ReadonlyArray<ReadonlyArray<unknown>>): Promise<void> {
    // Worker threads: every cell of the batch in one task, results consumed in the same order.
    const width = this.columns.length;
    const texts: (string | null)[] = [];
    for (const row of rows) {
      for (let i = 0; i < width; i++) {
        const cell = row[i];
        const text = cell === null || cell === undefined ? "" : truncateUtf8(String(cell), this.maxCellBytes);
        texts.push(text.length === 0 ? null : text);
      }
    }
    let batched: Detection[][] | null = null;
    if (this.detectCells) {
      const present = texts.filter((t): t is string => t !== null);
      const hints = texts.flatMap((t, k) => (t === null ? [] : [this.columns[k % width]!.name]));
      batched = present.length ? await this.detectCells(present, hints, this.signal ?? new AbortController().signal) : [];
    }
    let next = 0;
    for (let r = 0; r < rows.length; r++) {
      this.rowsSeen++;
      for (let i = 0; i < width; i++) {
        const text = texts[r * width + i];
        if (text === null || text === undefined) continue;
        const detections = batched ? batched[next++]! : this.detect(text, { hashKey: this.hashKey, contextHint: this.columns[i]!.name, ...(this.phoneRegions ? { phoneRegions: this.phoneRegions } : {}) });
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
          if (severityRank(d.severity) > severityRank(agg.severity)) agg.severity = d.severity;
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

/**
 * Runs `op`; when `signal` aborts first, cancels the running statement on the server,
 * gives it a moment to fail, and throws {@link ScanAbortedError} — within one second.
 */
async function guard<T>(signal: AbortSignal, session: EngineSession | null, op: () => Promise<T>): Promise<T> {
  throwIfAborted(signal, ScanAbortedError);
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

