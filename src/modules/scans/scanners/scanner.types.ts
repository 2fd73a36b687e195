/** Shapes shared by the scan pipeline, the database scanner and the scan worker. */
import type { FindingType, Severity } from "../../detection/index.js";

export interface ScanFinding {
  type: FindingType;
  severity: Severity;
  confidence: number;
  /** Never the raw value. */
  maskedValue: string;
  occurrences: number;
  valueHash?: string;
  /** Document name, file path, or "schema.table". */
  source: string;
  line?: number | null;
  table?: string | null;
  column?: string | null;
  matchRatio?: number | null;
}

export interface ScanProgressUpdate {
  itemsProcessed: number;
  itemsTotal: number | null;
  stage: string;
  /** How far the item in hand is (0..1): progress moves within one large document (issue 14). */
  itemFraction?: number;
}

export interface ScanContext {
  signal: AbortSignal;
  onProgress: (u: ScanProgressUpdate) => void;
  /** Key for the findings' value hashes. */
  hashKey: string;
  /** DETECTION_PHONE_REGIONS: regions whose national numbers are read without a `+`. @default the engine's */
  phoneRegions?: readonly string[];
}

export interface NamedContent {
  /** Document name, or a file's relative path. */
  name: string;
  content: Uint8Array;
}

export class ScanAbortedError extends Error {
  constructor(message = "scan aborted") {
    super(message);
    this.name = "ScanAbortedError";
  }
}

/** Input the scanner cannot read (an unreadable PDF, a corrupt DOCX); `code` is stable. */
export class ScanInputError extends Error {
  constructor(
    public code: string,
    message: string,
  ) {
    super(message);
    this.name = "ScanInputError";
  }
}
