import { SEVERITY_LEVELS, type SeverityLevel } from "../../shared/severity.js";

/**
 * Public types of the detection engine. Other modules (scans, payments, database scanner)
 * code against these exact names; add optional fields only.
 */
export const FINDING_TYPES = [
  "EMAIL",
  "PHONE_NUMBER",
  "IBAN",
  "CREDIT_CARD",
  "BSN",
  "IP_ADDRESS",
  "AWS_ACCESS_KEY",
  "PRIVATE_KEY",
  "JWT",
  "API_KEY",
  "PASSWORD",
] as const;
export type FindingType = (typeof FINDING_TYPES)[number];

export const SEVERITIES = SEVERITY_LEVELS;
export type Severity = SeverityLevel;

export interface Detection {
  type: FindingType;
  severity: Severity;
  /** 0..1 */
  confidence: number;
  /** Never the raw value. */
  maskedValue: string;
  /** HMAC-SHA256 (hex, keyed) of the normalised value, to count repeats without storing them. */
  valueHash: string;
  /** 1-based line in the text. */
  line: number;
  /** Repeats of one value on one line are one Detection. */
  occurrences: number;
}

export interface DetectOptions {
  /** Key for `valueHash`. */
  hashKey: Uint8Array | string;
  /** E.g. a database column name "customer_bsn"; its words count as context. */
  contextHint?: string;
  /** Restrict to these types. @default all of FINDING_TYPES */
  types?: readonly FindingType[];
  /** Candidates whose confidence after context falls below this are dropped. @default 0.5 */
  minConfidence?: number;
  /**
   * ISO 3166 regions (upper case) whose national numbering plans are tried, in order, for
   * phone numbers written without a country code; a country named on the line, or a
   * "+CC" number beside it, goes first. Configured by DETECTION_PHONE_REGIONS.
   * @default ["NL", "BE", "DE", "GB", "FR", "US"]
   */
  phoneRegions?: readonly string[];
}

/** A validated candidate before grouping and hashing (engine-internal). */
export interface Candidate {
  type: FindingType;
  /** Offsets in the text: [start, end). */
  start: number;
  end: number;
  /** Normalised value (hashed, never returned). */
  value: string;
  maskedValue: string;
  confidence: number;
}
