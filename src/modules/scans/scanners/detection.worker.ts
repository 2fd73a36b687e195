/**
 * Piscina worker for scans: everything CPU-bound about reading user input runs here, off the
 * API's event loop, under the pool's `resourceLimits` (detection-pool.ts):
 * - `default`: the detection engine over a text (database cells, the in-process tests);
 * - `extract`: one input's text extraction (PDF, DOCX, HTML, text) and chunking;
 * - `detectChunk`: detection over one chunk of an extracted input, as finding rows.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { detect, type DetectOptions, type Detection } from "../../detection/index.js";

/**
 * Scan threads yield the CPU to the API's main thread: on Linux a thread has its own nice
 * value (setpriority on its thread id), so when the machine is busy the event loop that
 * answers requests runs first and the scan waits (issue 10). Elsewhere this does nothing.
 * @default niceness 10
 */
export const SCAN_THREAD_NICENESS = 10;
try {
  const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, SCAN_THREAD_NICENESS);
} catch {
  // not Linux, or not allowed: the threads keep the process's priority
}

export interface DetectionTask {
  text: string;
  options: DetectOptions;
}

export default function run(task: DetectionTask): Detection[] {
  return detect(task.text, task.options);
}

export { extractInput as extract } from "./extract-input.js";
export { detectChunk, detectCells } from "./chunk-detect.js";
