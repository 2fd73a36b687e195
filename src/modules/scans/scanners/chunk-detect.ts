/**
 * Detection over one chunk of an extracted input, in a detection thread: decodes its slice
 * of the shared UTF-8 text, runs the engine, and builds finding rows column by column (the
 * shape the batched insert takes), with lines of the whole input. Raw values never leave.
 */
import { detect, type DetectOptions, type Detection } from "../../detection/index.js";

export interface ChunkTask {
  text: SharedArrayBuffer;
  start: number;
  end: number;
  /** Lines of the input before this chunk. */
  lineOffset: number;
  hashKey: DetectOptions["hashKey"];
  phoneRegions?: DetectOptions["phoneRegions"] | undefined;
}

/** Finding rows of one chunk, column by column; `line` is 1-based in the whole input. */
export interface ChunkRows {
  type: string[];
  severity: string[];
  confidence: number[];
  maskedValue: string[];
  occurrences: number[];
  valueHash: string[];
  line: number[];
}

const decoder = new TextDecoder("utf-8");

export function detectChunk(task: ChunkTask): ChunkRows {
  const text = decoder.decode(new Uint8Array(task.text, task.start, task.end - task.start));
  const found = detect(text, { hashKey: task.hashKey, ...(task.phoneRegions ? { phoneRegions: task.phoneRegions } : {}) });
  const rows: ChunkRows = { type: [], severity: [], confidence: [], maskedValue: [], occurrences: [], valueHash: [], line: [] };
  for (const d of found) {
    rows.type.push(d.type);
    rows.severity.push(d.severity);
    rows.confidence.push(d.confidence);
    rows.maskedValue.push(d.maskedValue);
    rows.occurrences.push(d.occurrences);
    rows.valueHash.push(d.valueHash);
    rows.line.push(d.line + task.lineOffset);
  }
  return rows;
}

export interface CellsTask {
  /** Cell texts (already cut to the scanner's cell byte cap). */
  texts: string[];
  /** Per cell: its column name, as context. */
  hints: string[];
  hashKey: DetectOptions["hashKey"];
  phoneRegions?: DetectOptions["phoneRegions"] | undefined;
}

/** Detection over a batch of database cells, one result list per cell (database scans). */
export function detectCells(task: CellsTask): Detection[][] {
  return task.texts.map((text, i) => detect(text, { hashKey: task.hashKey, contextHint: task.hints[i], ...(task.phoneRegions ? { phoneRegions: task.phoneRegions } : {}) }));
}
