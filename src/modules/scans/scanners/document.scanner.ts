/**
 * Document scanner: extracts text (text-extract.ts), cuts it into chunks at line
 * boundaries, runs detection on each chunk (in this thread or through the worker pool)
 * and reports findings with document name and line. Checks the AbortSignal between
 * chunks; chunks are small enough (256 KiB) that a cancel lands within milliseconds.
 */
import { detect as engineDetect, type Detection } from "../../detection/index.js";
import { extractText } from "./text-extract.js";
import { ScanAbortedError, type DetectFn, type NamedContent, type ScanContext, type ScanFinding } from "./scanner.types.js";

/**
 * Characters per detection call: small enough that one chunk of dense text takes well
 * under the one second a cancel may take, big enough that per-call costs vanish.
 * @default 65536
 */
export const CHUNK_CHARS = 64 * 1024;

export interface TextChunk {
  text: string;
  /** Lines before this chunk: add to a detection's line. */
  lineOffset: number;
}

/** Splits at newlines so every chunk holds whole lines (a line longer than `size` is cut). */
export function chunkByLines(text: string, size: number = CHUNK_CHARS): TextChunk[] {
  const chunks: TextChunk[] = [];
  let start = 0;
  let lines = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length) {
      const nl = text.lastIndexOf("\n", end - 1);
      if (nl >= start) end = nl + 1;
    }
    const piece = text.slice(start, end);
    chunks.push({ text: piece, lineOffset: lines });
    let n = 0;
    for (let i = piece.indexOf("\n"); i !== -1; i = piece.indexOf("\n", i + 1)) n++;
    // A line cut in two (longer than `size`) continues on the same line number.
    lines += n;
    start = end;
  }
  return chunks;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new ScanAbortedError();
}

export interface ChunkedDetectOptions {
  hashKey: string;
  signal: AbortSignal;
  detect: DetectFn;
  /** Chunks in flight at once; more than 1 only helps an asynchronous `detect` (a pool). @default 1 */
  concurrency?: number;
  onChunk?: (done: number, total: number) => void;
}

/** Runs detection over a text chunk by chunk, with line numbers of the whole text. */
export async function detectChunked(text: string, opts: ChunkedDetectOptions): Promise<Detection[]> {
  const chunks = chunkByLines(text);
  const results: Detection[][] = new Array(chunks.length);
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < chunks.length) {
      const k = next++;
      // With the in-thread engine nothing else would run until the whole text is done:
      // yield to the event loop so a cancel (a pub/sub message, a timer) can abort us.
      if (k > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(opts.signal);
      const c = chunks[k]!;
      let found: Detection[];
      try {
        found = await opts.detect(c.text, { hashKey: opts.hashKey }, opts.signal);
      } catch (err) {
        if (opts.signal.aborted) throw new ScanAbortedError();
        throw err;
      }
      results[k] = c.lineOffset === 0 ? found : found.map((d) => ({ ...d, line: d.line + c.lineOffset }));
      done++;
      opts.onChunk?.(done, chunks.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
  throwIfAborted(opts.signal);
  return results.flat();
}

export function toFinding(d: Detection, source: string): ScanFinding {
  return {
    type: d.type,
    severity: d.severity,
    confidence: d.confidence,
    maskedValue: d.maskedValue,
    occurrences: d.occurrences,
    valueHash: d.valueHash,
    source,
    line: d.line,
  };
}

export async function scanDocuments(docs: NamedContent[], ctx: ScanContext): Promise<ScanFinding[]> {
  const detect = ctx.detect ?? engineDetect;
  const findings: ScanFinding[] = [];
  const total = docs.length;
  ctx.onProgress({ itemsProcessed: 0, itemsTotal: total, stage: "extracting text" });
  for (let i = 0; i < docs.length; i++) {
    throwIfAborted(ctx.signal);
    const doc = docs[i]!;
    const { text } = await extractText(doc.name, doc.content, ctx.signal);
    throwIfAborted(ctx.signal);
    const found = await detectChunked(text, {
      hashKey: ctx.hashKey,
      signal: ctx.signal,
      detect,
      concurrency: detect === engineDetect ? 1 : 4,
      onChunk: (done, n) => {
        if (n > 1) ctx.onProgress({ itemsProcessed: i, itemsTotal: total, stage: `scanning ${doc.name} (${done}/${n})` });
      },
    });
    for (const d of found) findings.push(toFinding(d, doc.name));
    ctx.onProgress({ itemsProcessed: i + 1, itemsTotal: total, stage: `scanned ${doc.name}` });
  }
  return findings;
}
