/**
 * The capacity monitor's say on new scans: pure functions, no I/O
 * (test/unit/capacity/admission.test.ts). Issue 10, point 6: the veto protects without
 * punishing. At CRITICAL a new scan is admitted and waits in the queue until capacity returns;
 * only critical memory on the admitting instance (or a monitor that cannot tell) refuses it.
 */
import { monitorUnavailableReason, type AdmissionVerdict } from "../scans/capacity.port.js";
import { METRIC_UNITS, type Level, type MetricName } from "./capacity.levels.js";

/**
 * Metrics whose CRITICAL holds new scans in the queue, on whichever live instance it is.
 * Queue wait is not one of them: it grows while scans are held, so it would hold them for ever.
 */
export const HOLDING_METRICS: readonly MetricName[] = ["memory", "cpu", "eventLoopDelay", "pool"];

/** The pseudo-metric of a level forced to CRITICAL by CAPACITY_FORCE_LEVEL. */
export const OVERRIDE = "override";

/** One live instance's level as admission and claiming see it (its own judgement, forced level applied). */
export interface InstanceLevel {
  id: string;
  hostname: string;
  level: Level;
  /** metrics held at CRITICAL (OVERRIDE when forced to CRITICAL); empty when forced lower */
  critical: readonly string[];
  /** when the instance made this judgement, ms since the epoch */
  at: number;
}

/** What an instance stores and publishes as its critical metrics: a forced level replaces its own figures. */
export function criticalMetrics(held: Iterable<{ metric: string; level: Level }>, forced?: Level | null): string[] {
  if (forced) return forced === "CRITICAL" ? [OVERRIDE] : [];
  const out: string[] = [];
  for (const a of held) if (a.level === "CRITICAL") out.push(a.metric);
  return out;
}

/** The newest judgement per instance (published views and stored samples say the same thing at different times). */
export function newestPerInstance(levels: Iterable<InstanceLevel>): InstanceLevel[] {
  const byId = new Map<string, InstanceLevel>();
  for (const l of levels) {
    const seen = byId.get(l.id);
    if (!seen || l.at > seen.at) byId.set(l.id, l);
  }
  return [...byId.values()];
}

const label = (m: string): string => (m === OVERRIDE ? "level forced by CAPACITY_FORCE_LEVEL" : (METRIC_UNITS[m as MetricName]?.label ?? m));

/** Why new scans must wait: every live instance CRITICAL on a holding metric, or null when none is. */
export function holdReason(instances: readonly InstanceLevel[]): string | null {
  const parts: string[] = [];
  for (const i of instances) {
    const why = i.critical.filter((m) => m === OVERRIDE || (HOLDING_METRICS as readonly string[]).includes(m));
    if (why.length > 0) parts.push(`${i.hostname} (${why.map(label).join(", ")})`);
  }
  return parts.length > 0 ? `capacity is CRITICAL on ${parts.join("; ")}` : null;
}

export interface AdmissionInput {
  /** whether a complete sample within the live window stands behind the answer */
  known: boolean;
  /** this instance's critical memory alert, when it holds one and no level is forced */
  memory: { value: number; threshold: number } | null;
  hostname: string;
  /** this instance and every live peer */
  instances: readonly InstanceLevel[];
  retryAfterSeconds: number;
}

/** Refuse only what would hurt: a monitor that cannot tell, or memory at CRITICAL here; else admit, held or not. */
export function decideAdmission(input: AdmissionInput): AdmissionVerdict {
  const { retryAfterSeconds } = input;
  if (!input.known) return { allowed: false, retryAfterSeconds, reason: monitorUnavailableReason(retryAfterSeconds) };
  if (input.memory) {
    const f = METRIC_UNITS.memory.format;
    return {
      allowed: false,
      retryAfterSeconds,
      reason: `Memory on ${input.hostname} is at ${f(input.memory.value)} (critical from ${f(input.memory.threshold)}), so new scans are refused; retry in ${retryAfterSeconds} s.`,
    };
  }
  const hold = holdReason(input.instances);
  return hold ? { allowed: true, waitsFor: "CAPACITY", reason: hold } : { allowed: true };
}
