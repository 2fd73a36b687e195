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
