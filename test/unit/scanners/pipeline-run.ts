/**
 * Runs documents or code files through the scan pipeline (scan-pipeline.ts) as the worker does,
 * with the thread work in this thread by default, and returns what the sink would store.
 */
import { FindingSink } from "../../../src/modules/scans/finding-sink.js";
import { IN_THIS_THREAD, runPipeline, type PipelineResult, type PipelineWorkers } from "../../../src/modules/scans/scan-pipeline.js";
import type { NamedContent, ScanProgressUpdate } from "../../../src/modules/scans/scanners/scanner.types.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";

export interface StoredRow {
  source: string;
  line: number | null;
  type: string;
  maskedValue: string;
  occurrences: number;
}

export interface PipelineRun extends PipelineResult {
  rows: StoredRow[];
  progress: ScanProgressUpdate[];
}

export async function scanThroughPipeline(
  mode: "document" | "code",
  files: NamedContent[],
  opts: { workers?: PipelineWorkers; signal?: AbortSignal; hashKey?: string; chunkBytes?: number } = {},
): Promise<PipelineRun> {
  const signal = opts.signal ?? new AbortController().signal;
  const rows: StoredRow[] = [];
  const sink = new FindingSink({
    write: async (b) => {
      for (let i = 0; i < b.type.length; i++) rows.push({ source: b.source[i]!, line: b.line[i]!, type: b.type[i]!, maskedValue: b.maskedValue[i]!, occurrences: b.occurrences[i]! });
      return { held: true, inserted: b.type.length };
    },
    maxFindings: 1_000_000,
    signal,
  });
  const progress: ScanProgressUpdate[] = [];
  const result = await runPipeline({
    mode,
    inputs: files.map((f, ordinal) => ({ ordinal, name: f.name })),
    // A copy: the extraction step may take the bytes (a thread transfer).
    load: async (ordinal) => ({ content: Uint8Array.from(files[ordinal]!.content) }),
    workers: opts.workers ?? IN_THIS_THREAD,
    sink,
    signal,
    hashKey: opts.hashKey ?? "k",
    onProgress: (u) => progress.push(u),
    inputTimeoutMs: 60_000,
    maxTextBytes: 64 * 1024 * 1024,
    threadHeapBytes: 256 * 1024 * 1024,
    log: silentLogger,
    ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}),
  });
  await sink.flush();
  return { ...result, rows, progress };
}
