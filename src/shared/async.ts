/** Rejects with "timed out after N ms" when `p` has not settled in time; clears its timer either way. */
export function withTimeout<T>(p: Promise<T>, ms: number, what = "operation"): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The cancellation check between steps of long work: throws `new Aborted()` once `signal` has
 * aborted (the caller's own error class, so its `instanceof` checks hold), else nothing.
 */
export function throwIfAborted(signal: AbortSignal | undefined, Aborted: new () => Error): void {
  if (signal?.aborted) throw new Aborted();
}
