/**
 * The scan-queue port: hands scan ids to workers. A job carries only the scan id; the scan's
 * state and inputs live in PostgreSQL, which also holds the system-wide running limit (the
 * claim under the slot lock), so both implementations give the same guarantees.
 */
export type ScanJobOutcome =
  /** The job is over (ran, or nothing to do: cancelled, finished, unknown). */
  | "done"
  /** Try again shortly: no system-wide slot was free, or the worker is shutting down. */
  | "retry";

export type ScanJobHandler = (scanId: string) => Promise<ScanJobOutcome>;

export interface ScanQueue {
  readonly kind: "in-process" | "bullmq";
  /** Adds a scan; idempotent per scan id while the job is pending. Rejects when the queue backend is unreachable. */
  enqueue(scanId: string): Promise<void>;
  /** Runs `handler` for jobs, at most `concurrency` at once in this process (0: never). */
  startConsuming(handler: ScanJobHandler, concurrency: number): void;
  /** A slot may have been freed (a scan ended): retry jobs that were waiting for one. */
  wake(): void;
  /** Stops taking new jobs and waits for the running handlers to return. */
  stopConsuming(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
