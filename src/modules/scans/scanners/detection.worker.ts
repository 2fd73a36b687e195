/**
 * Piscina worker for scans: everything CPU-bound about reading user input runs here, off the
 * API's event loop, under the pool's `resourceLimits` (detection-pool.ts):
 * - `default`: the detection engine over a text (database cells, the in-process tests);
 * - `extract`: one input's text extraction (PDF, DOCX, HTML, text) and chunking;
 * - `detectChunk`: detection over one chunk of an extracted input, as finding rows.
 */
import { detect, type DetectOptions, type Detection } from "../../detection/index.js";

export interface DetectionTask {
  text: string;
  options: DetectOptions;
}

export default function run(task: DetectionTask): Detection[] {
  return detect(task.text, task.options);
}

export { extractInput as extract } from "./extract-input.js";
export { detectChunk, detectCells } from "./chunk-detect.js";
