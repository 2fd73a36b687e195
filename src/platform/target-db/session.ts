import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { DatabaseTarget, SessionSettings } from "./target.js";

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
