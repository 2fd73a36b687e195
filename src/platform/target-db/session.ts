import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { DatabaseScanError, type DatabaseTarget, type SessionSettings } from "./target.js";

/**
 * One open connection to a scanned database, the same shape for every engine: list the
 * tables, sample rows of one table into a sink, cancel what runs, close. Engines live one
 * per file (`pg.session.ts`, `mysql.session.ts`); `connect.ts` picks one.
 */
export interface EngineSession {
  readonly serverVersion: string;
  listTables(): Promise<TableSpec[]>;
  sample(table: TableSpec, columns: ColumnSpec[], settings: SessionSettings, sink: RowSink): Promise<void>;
  /** Cancels the statement running on the main connection, from a second connection. */
  cancelRunning(): Promise<void>;
  /** Idempotent; never throws. */
  close(): Promise<void>;
}

export interface RowSink {
  /** Discard everything received so far (a sampling attempt is being retried). */
  reset(): void;
  rows(rows: unknown[][]): Promise<void>;
}

export interface ColumnSpec {
  name: string;
  /** Server-side expression producing text, with the identifier already quoted. */
  expression: string;
  readable: boolean;
  /** False for types that hold no text (geometry, bit): not sampled. */
  sampled: boolean;
}

export interface TableSpec {
  schema: string;
  name: string;
  source: string;
  columns: ColumnSpec[];
  /** Planner's row estimate, when the engine has one: decides TABLESAMPLE. */
  estimatedRows: number | null;
  tablesample: boolean;
}

/** From a failed close to destroying the socket. */
export const CLOSE_BUDGET_MS = 100;

/** TLS options that verify the certificate against the name the user gave, not the vetted IP. */
export function tlsFor(target: DatabaseTarget, settings: SessionSettings) {
  const name = target.host.replace(/^\[(.*)\]$/, "$1");
  return {
    rejectUnauthorized: settings.tls.rejectUnauthorized,
    ...(settings.tls.ca ? { ca: settings.tls.ca } : {}),
    ...(isIP(name) === 0 ? { servername: name } : {}),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
}

/** Characters of text in a row (the unit the per-table budget counts). */
export function bytesOf(row: unknown[]): number {
  let n = 0;
  for (const cell of row) if (typeof cell === "string") n += cell.length;
  return n;
}

export function noop(): void {}

/**
 * Longest name accepted from a scanned server: PostgreSQL allows 63 bytes, MySQL 64
 * characters, so anything longer comes from a server that is not what it claims.
 */
export const MAX_IDENTIFIER_CHARS = 128;
/** Longest server version kept (the rest is cut). */
export const MAX_VERSION_CHARS = 120;

/** A name read from the server, refused when it cannot be a real identifier. */
export function checkIdentifier(name: unknown, what: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_IDENTIFIER_CHARS) {
    throw new DatabaseScanError(
      "SCAN_FAILED",
      `the database server sent a ${what} name that is empty or longer than ${MAX_IDENTIFIER_CHARS} characters; the scan stopped`,
    );
  }
  return name;
}

/** A server version for display: at most {@link MAX_VERSION_CHARS} printable characters. */
export function cleanVersion(value: unknown): string {
  const text = typeof value === "string" ? value : String(value ?? "");
  // eslint-disable-next-line no-control-regex
  const printable = text.slice(0, MAX_VERSION_CHARS * 2).replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "");
  return printable.length > MAX_VERSION_CHARS ? `${printable.slice(0, MAX_VERSION_CHARS)}…` : printable;
}

/** Cuts every string cell of `row` to `maxChars` in place (a hostile server ignores LEFT()). */
export function capCells(row: unknown[], maxChars: number): unknown[] {
  for (let i = 0; i < row.length; i++) {
    const cell = row[i];
    if (typeof cell === "string" && cell.length > maxChars) row[i] = cell.slice(0, maxChars);
  }
  return row;
}

/** Largest protocol message a sampled row may need: every cell at 4 bytes per character, plus framing. */
export function rowMessageLimit(columns: number, cellChars: number): number {
  return columns * (cellChars * 4 + 16) + 64 * 1024;
}
