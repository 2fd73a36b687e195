/**
 * Code scanner: secrets and personal data in source files, with path and line. Skips
 * binaries (NUL bytes, invalid UTF-8), vendored trees and minified files.
 */
import { detect as engineDetect } from "../../detection/index.js";
import { detectChunked, toFinding } from "./document.scanner.js";
import { looksBinary, isValidUtf8, decodeText } from "./text-extract.js";
import { ScanAbortedError, type NamedContent, type ScanContext, type ScanFinding } from "./scanner.types.js";

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

/** Why a file is skipped, or null to scan it. */
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

export interface CodeScanResult {
  findings: ScanFinding[];
  skipped: { path: string; reason: SkipReason }[];
}

/** Scans files and also says which were skipped and why. */
export async function scanCodeDetailed(files: NamedContent[], ctx: ScanContext): Promise<CodeScanResult> {
  const detect = ctx.detect ?? engineDetect;
  const findings: ScanFinding[] = [];
  const skipped: CodeScanResult["skipped"] = [];
  const total = files.length;
  ctx.onProgress({ itemsProcessed: 0, itemsTotal: total, stage: "scanning files" });
  for (let i = 0; i < files.length; i++) {
    if (ctx.signal.aborted) throw new ScanAbortedError();
    const file = files[i]!;
    let reason = skipReason(file);
    let text = "";
    if (!reason) {
      text = decodeText(file.content);
      reason = skipReason(file, text);
    }
    if (reason) {
      skipped.push({ path: file.name, reason });
    } else {
      const found = await detectChunked(text, { hashKey: ctx.hashKey, signal: ctx.signal, detect, concurrency: detect === engineDetect ? 1 : 4 });
      for (const d of found) findings.push(toFinding(d, file.name));
    }
    // Many small files: report every 25 and at the end rather than each one.
    if ((i + 1) % 25 === 0 || i + 1 === total) ctx.onProgress({ itemsProcessed: i + 1, itemsTotal: total, stage: `scanned ${file.name}` });
  }
  return { findings, skipped };
}

export async function scanCode(files: NamedContent[], ctx: ScanContext): Promise<ScanFinding[]> {
  return (await scanCodeDetailed(files, ctx)).findings;
}
