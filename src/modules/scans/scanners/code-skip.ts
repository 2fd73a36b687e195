/**
 * Which files a code scan leaves out, by rule: vendored trees, minified or generated code,
 * binaries (NUL bytes, invalid UTF-8). Applied in the extraction thread (extract-input.ts).
 */
import { looksBinary, isValidUtf8 } from "./text-extract.js";
import type { NamedContent } from "./scanner.types.js";

/** Path segments whose files are third-party code. */
const VENDORED_DIRS = new Set(["node_modules", "vendor", "dist", "third_party", "bower_components", ".git"]);

/** A line this long is generated or minified code, not something a person wrote. @default 5000 */
export const MAX_LINE_CHARS = 5000;
/** Average line length above which a file counts as minified. @default 500 */
export const MAX_AVERAGE_LINE = 500;

export type SkipReason = "vendored" | "minified" | "binary";

export function skipReasonForPath(path: string): SkipReason | null {
  const segs = path.replace(/\\/g, "/").split("/");
  for (const s of segs.slice(0, -1)) if (VENDORED_DIRS.has(s)) return "vendored";
  const base = segs[segs.length - 1] ?? "";
  if (/\.min\.(?:js|mjs|cjs|css)$/i.test(base) || /[.-]bundle\.js$/i.test(base)) return "minified";
  return null;
}

/** Why a file is skipped, or null to scan it: by path and bytes first, then (with `text`) by its lines. */
export function skipReason(file: NamedContent, text?: string): SkipReason | null {
  const byPath = skipReasonForPath(file.name);
  if (byPath) return byPath;
  if (looksBinary(file.content) || (text === undefined && !isValidUtf8(file.content))) return "binary";
  if (text !== undefined) {
    let lines = 1;
    let start = 0;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
      if (i - start > MAX_LINE_CHARS) return "minified";
      lines++;
      start = i + 1;
    }
    if (text.length - start > MAX_LINE_CHARS) return "minified";
    if (text.length > 2000 && text.length / lines > MAX_AVERAGE_LINE) return "minified";
  }
  return null;
}
