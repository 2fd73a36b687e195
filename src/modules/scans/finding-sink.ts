/**
 * Where a running scan's findings go: rows are buffered up to one batch and written while the
 * scan goes on (one bulk statement per batch, scan-worker.repo.ts `writeFindings`), at most one
 * batch in flight, so a scan's memory is bounded by its batch, not by its number of findings.
 * `add` waits while a batch is being written (back-pressure reaches the producers).
 *
 * Past `maxFindings` stored rows, new values are counted, not stored: the scan still
 * succeeds and says how many it left out (issue 10 point 3).
 */
import { highestSeverity } from "../detection/index.js";
import { ScanAbortedError } from "./scanners/scanner.types.js";
import type { ChunkRows } from "./scanners/chunk-detect.js";
import { emptyBatch, type FindingBatch } from "./scan.repo.js";

/** Rows per bulk insert. @default 2000 */
export const FINDINGS_BATCH_ROWS = 2000;

/** One row as a scanner reports it; the sink adds ordinal and scan. */
export interface SinkRow {
  type: string;
  severity: string;
  confidence: number;
  maskedValue: string;
  occurrences: number;
  valueHash: string | null;
  source: string;
  line: number | null;
  table?: string | null;
  column?: string | null;
  matchRatio?: number | null;
}

/** Rows of one source, column by column: what a detection thread returns for a chunk. */
export type SourceRows = ChunkRows;

export interface FindingSinkOptions {
  /** Writes one batch; `held: false` when the scan is no longer this worker's. */
  write: (batch: FindingBatch) => Promise<{ held: boolean; inserted: number }>;
  maxFindings: number;
  signal: AbortSignal;
  /** Called once when a write finds the scan no longer held (cancelled, taken over). */
  onLost?: () => void;
  /** @default FINDINGS_BATCH_ROWS */
  batchRows?: number;
}

const batchKey = (source: string, line: number, hash: string): string => `${line}\u0000${hash}\u0000${source}`;

export class FindingSink {
  /** Rows stored so far (new rows; repeats merged into a stored row do not count). */
  stored = 0;
  /** Distinct values found past `maxFindings`, not stored. */
  notStored = 0;
  private admitted = 0;
  private nextOrdinal = 0;
  private severities = new Set<string>();
  private buffer: FindingBatch = emptyBatch();
  /** Place of each (source, line, value) in the buffer. */
  private readonly keys = new Map<string, number>();
  private inflight: Promise<void> | null = null;
  private failure: unknown = null;
  private lost = false;
  private readonly batchRows: number;

  constructor(private readonly options: FindingSinkOptions) {
    this.batchRows = Math.max(1, options.batchRows ?? FINDINGS_BATCH_ROWS);
  }

  /** Highest severity among every value found (stored or not). */
  get riskLevel(): string | null {
    return this.severities.size ? highestSeverity([...this.severities] as never) : null;
  }

  get truncated(): boolean {
    return this.notStored > 0;
  }

  /** Adds the rows of one chunk of `source`; resolves once they are buffered (maybe after a write). */
  async addSource(source: string, rows: SourceRows): Promise<void> {
    for (let i = 0; i < rows.type.length; i++) {
      // One statement may not update a row twice: a repeat within the batch merges here.
      if (this.mergeInBatch(source, rows.line[i]!, rows.valueHash[i]!, rows.occurrences[i]!, rows.confidence[i]!)) continue;
      if (!this.admit(rows.severity[i]!)) continue;
      const b = this.buffer;
      this.keys.set(batchKey(source, rows.line[i]!, rows.valueHash[i]!), b.type.length);
      b.ordinal.push(this.nextOrdinal++);
      b.type.push(rows.type[i]!);
      b.severity.push(rows.severity[i]!);
      b.confidence.push(rows.confidence[i]!);
      b.maskedValue.push(rows.maskedValue[i]!);
      b.occurrences.push(rows.occurrences[i]!);
      b.valueHash.push(rows.valueHash[i]!);
      b.source.push(source);
      b.line.push(rows.line[i]!);
      b.table.push(null);
      b.column.push(null);
      b.matchRatio.push(null);
      if (b.type.length >= this.batchRows) await this.cut();
    }
  }

  /** Adds rows one by one (database scans: one row per column and type). */
  async add(rows: readonly SinkRow[]): Promise<void> {
    for (const r of rows) {
      if (!this.admit(r.severity)) continue;
      const b = this.buffer;
      b.ordinal.push(this.nextOrdinal++);
      b.type.push(r.type);
      b.severity.push(r.severity);
      b.confidence.push(r.confidence);
      b.maskedValue.push(r.maskedValue);
      b.occurrences.push(r.occurrences);
      b.valueHash.push(r.valueHash ?? null);
      b.source.push(r.source);
      b.line.push(r.line ?? null);
      b.table.push(r.table ?? null);
      b.column.push(r.column ?? null);
      b.matchRatio.push(r.matchRatio ?? null);
      if (b.type.length >= this.batchRows) await this.cut();
    }
  }

  /** Writes what is buffered and waits for every write; throws the first write error. */
  async flush(): Promise<void> {
    await this.cut();
    await this.inflight;
    this.throwIfFailed();
  }

  private mergeInBatch(source: string, line: number, hash: string, occurrences: number, confidence: number): boolean {
    const at = this.keys.get(batchKey(source, line, hash));
    if (at === undefined) return false;
    this.buffer.occurrences[at]! += occurrences;
    if (confidence > this.buffer.confidence[at]!) this.buffer.confidence[at] = confidence;
    return true;
  }

  private admit(severity: string): boolean {
    this.severities.add(severity);
    // Rows buffered or in flight count as stored until their write says they merged.
    if (this.admitted >= this.options.maxFindings) {
      this.notStored++;
      return false;
    }
    this.admitted++;
    return true;
  }

  /** Hands the buffer to the writer once the previous write is done (at most one in flight). */
  private async cut(): Promise<void> {
    if (this.options.signal.aborted) throw new ScanAbortedError();
    await this.inflight;
    this.throwIfFailed();
    if (this.options.signal.aborted) throw new ScanAbortedError();
    const batch = this.buffer;
    if (batch.type.length === 0) return;
    this.buffer = emptyBatch();
    this.keys.clear();
    const size = batch.type.length;
    this.inflight = this.options
      .write(batch)
      .then(({ held, inserted }) => {
        this.stored += inserted;
        // Repeats merged into stored rows free their places under the cap.
        this.admitted -= size - inserted;
        if (!held && !this.lost) {
          this.lost = true;
          this.options.onLost?.();
        }
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      });
  }

  private throwIfFailed(): void {
    if (this.lost || this.options.signal.aborted) throw new ScanAbortedError();
    if (this.failure) throw this.failure;
  }
}
