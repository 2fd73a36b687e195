import { badInput } from "./errors.js";

/** Control characters (C0, DEL, C1) and the bidi overrides/isolates that disguise text. */
const FORBIDDEN_TEXT = /[\p{Cc}\u202A-\u202E\u2066-\u2069]|\p{Cs}/u;

/**
 * Checks a user-supplied label: trimmed, at most `max` characters, no control characters.
 * Returns the trimmed text, or null for blank when `optional`; otherwise BAD_USER_INPUT naming
 * `field`. Used by sessions, connections and payments.
 */
export function cleanText(value: string | null | undefined, field: string, max: number, optional: true): string | null;
export function cleanText(value: string | null | undefined, field: string, max: number, optional?: false): string;
export function cleanText(value: string | null | undefined, field: string, max: number, optional = false): string | null {
  if (value === null || value === undefined || value.trim() === "") {
    if (optional) return null;
    throw badInput(`${field} must not be empty`, field);
  }
  if (typeof value !== "string") throw badInput(`${field} must be a string`, field);
  const text = value.trim();
  if (FORBIDDEN_TEXT.test(text)) throw badInput(`${field} must not contain control characters`, field);
  if ([...text].length > max) throw badInput(`${field} must be at most ${max} characters`, field);
  return text;
}

/**
 * A byte count as people read it, in every message that names a size: "12 bytes", "512 KB",
 * "1.5 MB", "10 MB" (1 KB = 1024 bytes and 1 MB = 1024 × 1024, as the limits are set; one
 * decimal below 10 MB, none when it is .0): the units and style of the web client's `formatBytes`.
 */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 || Math.round(bytes / 1024) >= 1024) {
    const mb = bytes / (1024 * 1024);
    if (mb >= 9.95) return `${Math.round(mb)} MB`; // rounded once: 381.47 is 381, not 382 by way of 381.5
    const tenths = Math.round(mb * 10) / 10;
    return `${Number.isInteger(tenths) ? tenths : tenths.toFixed(1)} MB`;
  }
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}
