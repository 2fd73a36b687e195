/**
 * Load judged over a window: pure functions, no I/O (test/unit/capacity/window.test.ts).
 *
 * Machine CPU and event-loop delay are read per sample interval; one interval's burst (a
 * start-up, a scan's detection pass, one slow document) is load the server absorbs, and must not
 * flip the level that holds new scans back (issue 10, point 6). The level judges instead the
 * time-weighted mean of the readings over the last minute.
 */

/** How far back CPU and event-loop delay are judged. */
export const LOAD_WINDOW_MS = 60_000;

/** One reading that covers `spanMs` of wall time ending at `at` (ms since the epoch). */
export interface WindowPoint {
  at: number;
  spanMs: number;
  value: number;
}

/**
 * The time-weighted mean of the readings over `[now - windowMs, now]`. Time no reading covers
 * counts as 0: a fresh instance starts calm and reaches its full measure after one window, and a
 * burst weighs by its share of the window (a 100% CPU burst of 10 s over a calm minute is ~17%).
 */
export function windowMean(points: readonly WindowPoint[], now: number, windowMs: number): number {
  if (windowMs <= 0) return points.length > 0 ? points[points.length - 1]!.value : 0;
  const from = now - windowMs;
  let sum = 0;
  for (const p of points) {
    if (!(p.spanMs > 0) || !Number.isFinite(p.value)) continue;
    const start = Math.max(p.at - p.spanMs, from);
    const end = Math.min(p.at, now);
    if (end > start) sum += p.value * (end - start);
  }
  return sum / windowMs;
}

/** Drops the readings that end before the window (in place, oldest first); keeps the list bounded. */
export function trimWindow(points: WindowPoint[], now: number, windowMs: number): void {
  let drop = 0;
  while (drop < points.length && points[drop]!.at <= now - windowMs) drop++;
  if (drop > 0) points.splice(0, drop);
}
