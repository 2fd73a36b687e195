/**
 * Why a task sent to a scan thread (detection-pool.ts) failed, told one way for every caller:
 * the document pipeline (a skipped input) and database scans (a skipped table or a failed scan).
 * Errors crossing the thread boundary keep only their name, code and message, so that is
 * what is read.
 */

/**
 * - `memory`: the thread reached its heap limit (ERR_WORKER_OUT_OF_MEMORY; the pool replaces it);
 * - `time`: the task's signal fired (its time budget, AbortSignal.timeout, or an abort);
 * - `other`: anything else (a bug or a reader's own error): log it, tell the user less.
 */
export type ThreadFailure = "memory" | "time" | "other";

export function threadFailure(err: unknown): ThreadFailure {
  const text = describe(err);
  if (/ERR_WORKER_OUT_OF_MEMORY|out of memory|heap/i.test(text)) return "memory";
  if (/abort|timeout/i.test(text)) return "time";
  return "other";
}

/** The parts of a thread's error fit for the server's log (never the task: it may hold a key). */
export function threadErrorForLog(err: unknown): { name?: string; code?: string; message?: string } {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const pick = (v: unknown) => (typeof v === "string" ? v : undefined);
  return { name: pick(e.name), code: pick(e.code), message: typeof err === "string" ? err : pick(e.message) };
}

function describe(err: unknown): string {
  const e = threadErrorForLog(err);
  return `${e.name ?? ""} ${e.code ?? ""} ${e.message ?? ""}`;
}
