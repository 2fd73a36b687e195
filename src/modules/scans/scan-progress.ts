import type { ScanProgressUpdate } from "./scanners/scanner.types.js";

/**
 * A scan's progress (0..0.99 while it runs) from a scanner's update: items done, plus the part
 * of the item in hand (`itemFraction`), so one large document moves the bar too (issue 14,
 * point 3). 1.0 is written only when the scan succeeds.
 */
export function progressOf(update: Pick<ScanProgressUpdate, "itemsProcessed" | "itemsTotal" | "itemFraction">): number {
  if (!update.itemsTotal || update.itemsTotal <= 0) return 0;
  const within = Number.isFinite(update.itemFraction) ? Math.min(1, Math.max(0, update.itemFraction!)) : 0;
  return Math.min(0.99, Math.max(0, (update.itemsProcessed + within) / update.itemsTotal));
}
