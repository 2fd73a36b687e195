/**
 * Polls `fn` until `ok` holds for its value and returns that value; throws after `timeoutMs`
 * naming what was awaited and the last value seen.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T>,
  ok: (value: T) => boolean,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const value = await fn();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
