/**
 * Piscina worker: runs the (synchronous, CPU-bound) detection engine off the event loop.
 * Receives text and options, returns detections (masked values and hashes only).
 */
import { detect, type DetectOptions, type Detection } from "../../detection/index.js";

export interface DetectionTask {
  text: string;
  options: DetectOptions;
}

export default function run(task: DetectionTask): Detection[] {
  return detect(task.text, task.options);
}
