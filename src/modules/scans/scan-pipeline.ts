/**
 * Document and code scans, with the API's main thread only coordinating (issue 10 point 1):
 * for each input, in order, its bytes are read from PostgreSQL alone (never all inputs at
 * once), extracted in a worker thread (extract-input.ts), detected chunk by chunk in worker
 * threads (chunk-detect.ts, several chunks in flight), and the finding rows go to the sink,
 * which writes them in batches while the scan goes on.
 *
 * Budgets per input: extraction and each detection chunk get `inputTimeoutMs`; the threads
 * have a heap limit. An input over a budget (size, time, memory) or unreadable is skipped
 * with a reason, and the scan goes on with the next one. Aborting the scan's signal ends the
 * threads working for it at once (the pool starts fresh ones).
 */
import type { Logger } from "../../platform/observability/logger.js";
import type { FindingSink } from "./finding-sink.js";
import type { Detection } from "../detection/index.js";
import { detectChunk, type CellsTask, type ChunkRows, type ChunkTask } from "./scanners/chunk-detect.js";
import { extractInput, type ExtractResult, type ExtractTask, type InputSkip } from "./scanners/extract-input.js";
import type { InputKey } from "./input-box.js";
import { ScanAbortedError, ScanInputError, type ScanProgressUpdate } from "./scanners/scanner.types.js";
import { throwIfAborted } from "../../shared/async.js";
import { formatBytes } from "../../shared/text.js";
import { threadErrorForLog, threadFailure } from "./scanners/thread-errors.js";
import type { SkippedInput } from "./scan.type.js";

/** UTF-8 bytes per detection chunk. @default 65536 */
export const PIPELINE_CHUNK_BYTES = 64 * 1024;

/** Skips recorded on the scan; more are counted in one last entry. @default 200 */
export const MAX_SKIPPED_LISTED = 200;

/** The work a pipeline hands to threads (detection-pool.ts), or runs in this thread in tests. */
export interface PipelineWorkers {
  extract(task: ExtractTask, signal: AbortSignal): Promise<ExtractResult>;
  detectChunk(task: ChunkTask, signal: AbortSignal): Promise<ChunkRows>;
  /** Database cells, one list per cell (database scans); unset: cells are detected in this thread. */
  detectCells?(task: CellsTask, signal: AbortSignal): Promise<Detection[][]>;
  /** Chunks of one input in flight at once. */
  readonly parallelism: number;
}

/**
 * The same work in this thread: only for tests and DETECTION_THREADS=0. Each chunk waits for
 * the event loop's next turn first, as a thread's answer would, so a cancel (a pub/sub message,
 * a timer) lands between chunks instead of after the whole input; an aborted chunk is refused.
 */
export const IN_THIS_THREAD: PipelineWorkers = {
  extract: (task) => extractInput(task),
  detectChunk: async (task, signal) => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    signal.throwIfAborted();
    return detectChunk(task);
  },
  parallelism: 1,
};

export interface PipelineInput {
  ordinal: number;
  name: string;
}

/** One input's bytes as stored, and the key that opens them in the extraction thread when sealed. */
export interface LoadedInput {
  content: Uint8Array;
  sealed?: InputKey | undefined;
}

export interface PipelineOptions {
  mode: "document" | "code";
  inputs: readonly PipelineInput[];
  /** The input as stored, or null when it is gone; a sealed one is opened in the extraction thread. */
  load: (ordinal: number) => Promise<LoadedInput | null>;
  workers: PipelineWorkers;
  sink: FindingSink;
  signal: AbortSignal;
  hashKey: string;
  /** DETECTION_PHONE_REGIONS. @default the engine's */
  phoneRegions?: readonly string[] | undefined;
  onProgress: (u: ScanProgressUpdate) => void;
  /** Per input: extraction, and each detection chunk. */
  inputTimeoutMs: number;
  /** Inflated and extracted bytes one input may reach (4 x MAX_DOCUMENT_BYTES). */
  maxTextBytes: number;
  /** Heap per thread, for the reason shown when an input exceeds it. */
  threadHeapBytes: number;
  log: Logger;
  /** @default PIPELINE_CHUNK_BYTES */
  chunkBytes?: number;
}

export interface PipelineResult {
  skipped: SkippedInput[];
  /** Inputs read to the end (skipped ones excluded). */
  scanned: number;
}

/** Skips a code scan makes by rule, not by failure: not listed on the scan (as before). */
const QUIET_SKIPS = new Set<InputSkip["code"]>(["VENDORED", "MINIFIED", "BINARY"]);

export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  const skipped: SkippedInput[] = [];
  let moreSkipped = 0;
  const skip = (name: string, s: InputSkip) => {
    if (o.mode === "code" && QUIET_SKIPS.has(s.code)) return;
    if (skipped.length < MAX_SKIPPED_LISTED) skipped.push({ name, code: s.code, reason: s.reason });
    else moreSkipped++;
  };
  const total = o.inputs.length;
  let scanned = 0;
  o.onProgress({ itemsProcessed: 0, itemsTotal: total, stage: o.mode === "code" ? "scanning files" : "extracting text" });
  for (let i = 0; i < total; i++) {
    throwIfAborted(o.signal, ScanAbortedError);
    const input = o.inputs[i]!;
    const outcome = await scanOne(o, input, i, total);
    if (outcome) skip(input.name, outcome);
    else scanned++;
    if (o.mode === "document" || (i + 1) % 25 === 0 || i + 1 === total) {
      o.onProgress({ itemsProcessed: i + 1, itemsTotal: total, stage: `scanned ${input.name}` });
    }
  }
  if (moreSkipped > 0) {
    skipped.push({ name: `(${moreSkipped} more)`, code: "MORE", reason: `${moreSkipped} more inputs were skipped; the first ${MAX_SKIPPED_LISTED} are listed` });
  }
  return { skipped, scanned };
}

/** Scans one input; returns why it was skipped (stopped early), or null when read to the end. */
async function scanOne(o: PipelineOptions, input: PipelineInput, index: number, total: number): Promise<InputSkip | null> {
  const loaded = await o.load(input.ordinal);
  throwIfAborted(o.signal, ScanAbortedError);
  if (!loaded) return { code: "UNREADABLE", reason: `${input.name}: its content is no longer stored` };
  const seconds = Math.round(o.inputTimeoutMs / 100) / 10;

  let extracted: ExtractResult;
  try {
    extracted = await o.workers.extract(
      { name: input.name, content: loaded.content, sealed: loaded.sealed, mode: o.mode, maxTextBytes: o.maxTextBytes, chunkBytes: o.chunkBytes ?? PIPELINE_CHUNK_BYTES },
      budgetSignal(o.signal, o.inputTimeoutMs),
    );
  } catch (err) {
    return overBudget(o, err, `${input.name}: reading its text took longer than ${seconds} s; not scanned`, input.name, "extract");
  }
  if (!extracted.ok) {
    // A stored input that does not open is not the input's fault: the scan stops (as before
    // opening moved into the thread), with what to do.
    if ("unopened" in extracted) throw inputUnreadable(extracted.unopened.message);
    return extracted.skip;
  }
  const { text, chunks } = extracted.input;
  const n = chunks.length / 3;

  // Chunks in order, `parallelism` in flight; results go to the sink in text order.
  const inflight: Array<{ k: number; result: Promise<ChunkRows> }> = [];
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  o.signal.addEventListener("abort", onAbort, { once: true });
  let next = 0;
  const launch = () => {
    const k = next++;
    const task: ChunkTask = { text, start: chunks[k * 3]!, end: chunks[k * 3 + 1]!, lineOffset: chunks[k * 3 + 2]!, hashKey: o.hashKey, phoneRegions: o.phoneRegions };
    const result = o.workers.detectChunk(task, budgetSignal(controller.signal, o.inputTimeoutMs));
    result.catch(() => undefined); // observed below, in order
    inflight.push({ k, result });
  };
  try {
    while (next < n && inflight.length < Math.max(1, o.workers.parallelism)) launch();
    while (inflight.length > 0) {
      const { k, result } = inflight.shift()!;
      let rows: ChunkRows;
      try {
        rows = await result;
      } catch (err) {
        const line = chunks[k * 3 + 2]! + 1;
        return overBudget(
          o,
          err,
          `${input.name}: detection stopped at line ${line} after taking longer than ${seconds} s on one part; findings before it are kept`,
          input.name,
          "detect",
        );
      }
      if (next < n) launch();
      await o.sink.addSource(input.name, rows);
      if (n > 1 && o.mode === "document") o.onProgress({ itemsProcessed: index, itemsTotal: total, itemFraction: (k + 1) / n, stage: `scanning ${input.name} (${k + 1}/${n})` });
    }
    return null;
  } finally {
    o.signal.removeEventListener("abort", onAbort);
    controller.abort(); // chunks still in flight after a skip
  }
}

/** The scan's signal, or a timeout for one step. */
function budgetSignal(scan: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([scan, AbortSignal.timeout(ms)]);
}

/** Why a thread's task failed, as a skip; a cancelled scan rethrows as aborted. */
function overBudget(o: PipelineOptions, err: unknown, timeReason: string, name: string, step: string): InputSkip {
  if (o.signal.aborted) throw new ScanAbortedError();
  switch (threadFailure(err)) {
    case "memory":
      return { code: "MEMORY_BUDGET", reason: `${name}: needed more than ${formatBytes(o.threadHeapBytes)} of memory to read; not scanned` };
    case "time":
      return { code: "TIME_BUDGET", reason: timeReason };
    case "other":
      o.log.warn({ step, err: threadErrorForLog(err) }, "scan input failed in its worker thread; skipped");
      return { code: "UNREADABLE", reason: `${name}: could not be read (the reader stopped with an error); not scanned` };
  }
}

/** The scan's stored documents cannot be opened (key gone, tampered, another row's): the scan fails with this. */
export function inputUnreadable(detail: string): ScanInputError {
  return new ScanInputError("INPUT_UNREADABLE", `The scan's stored documents cannot be opened (${detail}); start the scan again`);
}
