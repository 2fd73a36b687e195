/**
 * What the scans module asks the capacity monitor (issue 10, point 6). Defined here, on the
 * consumer's side, because dependencies point capacity → scans; the monitor implements it
 * (src/modules/capacity/capacity.admission.ts).
 */

/**
 * The monitor's say on a new scan:
 * - admitted, and workers may take it as soon as a slot is free;
 * - admitted, but it waits in the queue until capacity returns (`waitsFor: "CAPACITY"`, `reason`
 *   says which instance and figure hold it);
 * - refused (only critical memory, or a monitor that cannot tell): `reason` is the one sentence
 *   the client reads with CAPACITY_EXCEEDED.
 */
export type AdmissionVerdict =
  | { allowed: true; waitsFor?: undefined }
  | { allowed: true; waitsFor: "CAPACITY"; reason: string }
  | { allowed: false; retryAfterSeconds: number; reason: string };

/** Said when the monitor cannot read the server's load (its database part failed, or it threw). */
export const MONITOR_UNAVAILABLE = "The capacity monitor cannot read the server's load right now";

/** The refusal sentence when the monitor cannot tell. */
export const monitorUnavailableReason = (retryAfterSeconds: number): string =>
  `${MONITOR_UNAVAILABLE}, so new scans are refused; retry in ${retryAfterSeconds} s.`;

export interface CapacityPort {
  /** Asked before a scan is admitted; refuses when it cannot tell. */
  admissionVerdict(): Promise<AdmissionVerdict>;
  /**
   * Asked before a worker claims a QUEUED scan, from memory: why new scans must wait (some live
   * instance is CRITICAL), or null when they may start.
   */
  claimHold(): string | null;
}
