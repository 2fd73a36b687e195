/**
 * One input (a document or a code file) made ready for detection, in a scan worker thread:
 * its text extracted (text-extract.ts) under a byte budget, encoded once as UTF-8 into a
 * SharedArrayBuffer, and cut into chunks of whole lines with their line offsets. Detection
 * threads then read their chunk from that shared memory (chunk-detect.ts): the text is never
 * copied per chunk and never held by the API's main thread as a string.
 *
 * A stored input arrives still sealed at rest with the key to open it (input-box.ts): it is
 * opened here, in the thread, so neither the cipher nor the document in clear is on the API's
 * main thread. The key is wiped once used.
 *
 * Errors come back as values ({ skip }, { unopened }), not exceptions: an exception crossing
 * the thread boundary loses its code.
 */
import { DecryptError, type DecryptFailure } from "../../../platform/crypto/secret-box.js";
import { openSealed, type InputKey } from "../input-box.js";
import { skipReason } from "./code-skip.js";
import { ScanInputError } from "./scanner.types.js";
import { decodeText, detectKind, extractText, type DocumentKind } from "./text-extract.js";
import { formatBytes } from "../../../shared/text.js";
import { checkZipBudget } from "./zip-budget.js";

export interface ExtractTask {
  name: string;
  /** The input's bytes as stored (transferred to the thread, not copied): sealed when `sealed` is set. */
  content: Uint8Array;
  /** The key that opens `content` (input-box.ts); unset for an input stored in clear (older rows). Secret: never log a task. */
  sealed?: InputKey | undefined;
  mode: "document" | "code";
  /** Most bytes the input may unpack to: inflated DOCX parts and the extracted text (4 x MAX_DOCUMENT_BYTES). */
  maxTextBytes: number;
  /** Target chunk size in UTF-8 bytes; a chunk ends at a line end unless one line is longer. */
  chunkBytes: number;
}

/** Why an input was not scanned; `code` is stable (SkippedInput.code). */
export interface InputSkip {
  code: "TOO_LARGE" | "UNREADABLE" | "UNSUPPORTED" | "TIME_BUDGET" | "MEMORY_BUDGET" | "VENDORED" | "MINIFIED" | "BINARY";
  reason: string;
}

export interface ExtractedInput {
  kind: DocumentKind | "code";
  /** UTF-8 text, shared with the detection threads. */
  text: SharedArrayBuffer;
  byteLength: number;
  /** [start, end, lineOffset] per chunk, flattened: byte offsets into `text`, lines before the chunk. */
  chunks: number[];
}

/** The stored input did not open (tampered, another row's, malformed): the scan cannot go on. */
export interface InputUnopened {
  reason: DecryptFailure;
  message: string;
}

export type ExtractResult = { ok: true; input: ExtractedInput } | { ok: false; skip: InputSkip } | { ok: false; unopened: InputUnopened };

const CODE_SKIPS = { vendored: "VENDORED", minified: "MINIFIED", binary: "BINARY" } as const;

export async function extractInput(task: ExtractTask): Promise<ExtractResult> {
  const { name } = task;
  let content = task.content;
  if (task.sealed) {
    try {
      content = openSealed(task.sealed, content);
    } catch (err) {
      if (err instanceof DecryptError) return { ok: false, unopened: { reason: err.reason, message: err.message } };
      throw err;
    } finally {
      task.sealed.key.fill(0);
    }
  }
  let text: string;
  let kind: ExtractedInput["kind"];
  try {
    if (task.mode === "code") {
      const byPath = skipReason({ name, content });
      if (byPath) return { ok: false, skip: { code: CODE_SKIPS[byPath], reason: `${name}: ${byPath} file, not scanned` } };
      text = decodeText(content);
      const byText = skipReason({ name, content }, text);
      if (byText) return { ok: false, skip: { code: CODE_SKIPS[byText], reason: `${name}: ${byText} file, not scanned` } };
      kind = "code";
    } else {
      kind = detectKind(name, content);
      // DOCX: the archive's declared and actual inflated sizes are bounded before mammoth sees it.
      if (kind === "docx") checkZipBudget(content, task.maxTextBytes, name);
      text = (await extractText(name, content)).text;
    }
  } catch (err) {
    if (err instanceof ScanInputError) return { ok: false, skip: toSkip(err) };
    throw err;
  }
  // One UTF-8 byte per ASCII character: most text fits the budget check without encoding first.
  if (text.length > task.maxTextBytes) return { ok: false, skip: textTooLarge(name, task.maxTextBytes) };
  const byteLength = Buffer.byteLength(text, "utf8");
  if (byteLength > task.maxTextBytes) return { ok: false, skip: textTooLarge(name, task.maxTextBytes) };
  const shared = new SharedArrayBuffer(byteLength);
  const bytes = Buffer.from(shared);
  bytes.write(text, 0, "utf8");
  return { ok: true, input: { kind, text: shared, byteLength, chunks: chunkUtf8(bytes, task.chunkBytes) } };
}

function textTooLarge(name: string, max: number): InputSkip {
  return { code: "TOO_LARGE", reason: `${name}: its text is more than ${formatBytes(max)}, 4 times the largest file accepted; not scanned` };
}

function toSkip(err: ScanInputError): InputSkip {
  switch (err.code) {
    case "TOO_LARGE":
      return { code: "TOO_LARGE", reason: err.message };
    case "UNSUPPORTED_DOCUMENT":
      return { code: "UNSUPPORTED", reason: err.message };
    default:
      return { code: "UNREADABLE", reason: err.message };
  }
}

/**
 * Cuts UTF-8 text into chunks of about `size` bytes that end after a newline; a line longer
 * than `size` is cut at a character boundary (and continues on the same line number).
 * Linear: each byte is looked at a bounded number of times (`lastIndexOf` within one chunk).
 */
export function chunkUtf8(bytes: Uint8Array, size: number): number[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  let start = 0;
  let lines = 0;
  while (start < buf.length) {
    let end = Math.min(buf.length, start + size);
    if (end < buf.length) {
      const nl = buf.lastIndexOf(10, end - 1);
      if (nl >= start) end = nl + 1;
      else while (end > start + 1 && (buf[end]! & 0xc0) === 0x80) end--; // not inside a character
    }
    out.push(start, end, lines);
    for (let i = buf.indexOf(10, start); i !== -1 && i < end; i = buf.indexOf(10, i + 1)) lines++;
    start = end;
  }
  return out;
}
