/**
 * A piscina pool of detection workers, so scanners can send chunks of text to all cores
 * without blocking the event loop.
 *
 * Worker file: in production the compiled `detection.worker.js` next to this module; when
 * this module itself runs from `.ts` (vitest, swc-node, tsx) the `.ts` worker is used with
 * this process's `execArgv` plus `--import tsx`, because vite's transform does not reach
 * worker threads (TOOLCHAIN.md).
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import type { DetectOptions, Detection } from "../../detection/index.js";
import type { CellsTask, ChunkRows, ChunkTask } from "./chunk-detect.js";
import type { DetectionTask } from "./detection.worker.js";
import type { ExtractResult, ExtractTask } from "./extract-input.js";

export interface DetectionPoolOptions {
  /** Worker threads. @default os.availableParallelism() */
  threads?: number;
  /** Tasks allowed to wait per thread before `detect` rejects. @default Infinity */
  maxQueue?: number;
  /**
   * Heap of each thread (old generation, MiB): a task that needs more kills its thread (the
   * pool starts another) and fails with ERR_WORKER_OUT_OF_MEMORY. @default 256
   */
  maxHeapMb?: number;
}

export interface DetectionPool {
  detect(text: string, options: DetectOptions, signal?: AbortSignal): Promise<Detection[]>;
  /**
   * Extracts one input in a thread; its bytes are transferred (the caller's copy becomes
   * empty). Aborting `signal` ends the thread running it at once (the pool replaces it).
   */
  extract(task: ExtractTask, signal?: AbortSignal): Promise<ExtractResult>;
  /** Detection over one chunk of an extracted input, as finding rows. */
  detectChunk(task: ChunkTask, signal?: AbortSignal): Promise<ChunkRows>;
  /** Detection over a batch of database cells, one list per cell. */
  detectCells(task: CellsTask, signal?: AbortSignal): Promise<Detection[][]>;
  /** Stops the workers; idempotent. */
  close(): Promise<void>;
  readonly threads: number;
}

/** Where the worker is and how to start it, for this module's own file type. */
export function workerSpec(moduleUrl: string = import.meta.url): { filename: string; execArgv: string[] } {
  const here = fileURLToPath(moduleUrl);
  if (here.endsWith(".ts")) {
    const execArgv = [...process.execArgv];
    const hasLoader = execArgv.some((a, i) => (a === "--import" || a === "--loader" || a === "--require" || a === "-r") && /tsx|swc-node|ts-node/.test(execArgv[i + 1] ?? "")) ||
      execArgv.some((a) => /^--(?:import|loader|require)=.*(?:tsx|swc-node|ts-node)/.test(a));
    if (!hasLoader) execArgv.push("--import", "tsx");
    return { filename: here.replace(/detection-pool\.ts$/, "detection.worker.ts"), execArgv };
  }
  return { filename: here.replace(/detection-pool\.js$/, "detection.worker.js"), execArgv: [...process.execArgv] };
}

export function createDetectionPool(options: DetectionPoolOptions = {}): DetectionPool {
  const threads = Math.max(1, options.threads ?? availableParallelism());
  const spec = workerSpec();
  const piscina = new Piscina({
    filename: spec.filename,
    execArgv: spec.execArgv,
    // Threads start with the first scan and leave after a minute idle: an idle server does not
    // hold them (each costs ~90 MiB with the phone-number metadata loaded).
    minThreads: 0,
    maxThreads: threads,
    idleTimeout: 60_000,
    maxQueue: options.maxQueue ?? Infinity,
    // Detection is pure CPU; one task per thread at a time.
    concurrentTasksPerWorker: 1,
    // A hostile input (a zip bomb, a dense PDF) may not take the process's memory with it.
    resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
  });
  let closing: Promise<void> | null = null;
  return {
    threads,
    detect(text, opts, signal) {
      // The hash key crosses the thread boundary as a string or a copy of the bytes.
      const task: DetectionTask = { text, options: { ...opts, hashKey: typeof opts.hashKey === "string" ? opts.hashKey : Uint8Array.from(opts.hashKey) } };
      return piscina.run(task, signal ? { signal } : {});
    },
    extract(task, signal) {
      const buffer = task.content.buffer;
      // Transfer, not copy: the bytes must own their whole buffer for that.
      const content =
        task.content.byteOffset === 0 && task.content.byteLength === buffer.byteLength && buffer instanceof ArrayBuffer
          ? task.content
          : Uint8Array.from(task.content);
      return piscina.run({ ...task, content }, { name: "extract", transferList: [content.buffer as ArrayBuffer], ...(signal ? { signal } : {}) });
    },
    detectChunk(task, signal) {
      return piscina.run(task, { name: "detectChunk", ...(signal ? { signal } : {}) });
    },
    detectCells(task, signal) {
      return piscina.run(task, { name: "detectCells", ...(signal ? { signal } : {}) });
    },
    close() {
      closing ??= piscina.destroy();
      return closing;
    },
  };
}
