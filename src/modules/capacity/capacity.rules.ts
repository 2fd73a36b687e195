/**
 * Recommendations: rules over one aggregated snapshot. Pure, no I/O
 * (test/unit/capacity/rules.test.ts). Each names the figure behind it and a concrete action.
 */
import { severityRank, type SeverityLevel } from "../../shared/severity.js";
import type { Forecast } from "./capacity.forecast.js";
import type { Thresholds } from "./capacity.levels.js";

export type RecommendationSeverity = SeverityLevel;

export interface RuleRecommendation {
  severity: RecommendationSeverity;
  /** the figure behind it, e.g. "pool.waiting" */
  metric: string;
  message: string;
  /** the instance it is about, when it is about one */
  instanceId?: string;
}

export interface RuleInstance {
  id: string;
  hostname: string;
  cpu: number;
  memoryUsed: number;
  eventLoopDelayMs: number;
  pool: { size: number; inUse: number; idle: number; waiting: number };
  /** how long callers have been waiting for a pool connection without a break; 0 when none wait */
  poolWaitingSeconds: number;
}

export interface RuleDuration {
  kind: string;
  count: number;
  p50Seconds: number;
  p95Seconds: number;
}

export interface RuleRunningScan {
  id: string;
  kind: string;
  runningSeconds: number;
}

export interface RuleForecast {
  metric: "memory" | "queuedScans";
  instanceId?: string;
  hostname?: string;
  forecast: Forecast;
}

export interface RuleInput {
  instances: readonly RuleInstance[];
  thresholds: Thresholds;
  queued: number;
  running: number;
  maxConcurrent: number;
  maxQueued: number;
  /** p95 wait of scans started in the last hour and of scans still queued, seconds; null with none */
  queueWaitP95Seconds: number | null;
  durations: readonly RuleDuration[];
  runningScans: readonly RuleRunningScan[];
  forecasts: readonly RuleForecast[];
  /** why new scans wait in the queue (a live instance is CRITICAL), or null */
  capacityHold?: string | null;
}

/** A scan counts as overdue beyond this multiple of its kind's p95 ... */
export const OVERDUE_FACTOR = 2;
/** ... once the kind has this many finished scans in the hour to judge by ... */
export const OVERDUE_MIN_SAMPLES = 3;
/** ... and it has run at least this long (short scans vary a lot). */
export const OVERDUE_MIN_SECONDS = 30;
/** Pool waits this long are a capacity problem, not a burst. */
export const POOL_WAIT_SUSTAINED_SECONDS = 60;
/** Forecasts further out than this are not worth a recommendation. */
export const FORECAST_HORIZON_SECONDS = 3600;

const pct = (v: number) => `${Math.round(v * 100)}%`;
const secs = (v: number) => (v >= 10 ? `${Math.round(v)} s` : `${Math.round(v * 10) / 10} s`);
const mins = (s: number) => (s < 90 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`);
const on = (i: { hostname: string; id: string }) => `on ${i.hostname} (${i.id})`;

export function recommend(input: RuleInput): RuleRecommendation[] {
  const out: RuleRecommendation[] = [];
  const t = input.thresholds;

  for (const i of input.instances) {
    const ratio = i.pool.size > 0 ? i.pool.inUse / i.pool.size : 0;
    if (i.pool.waiting > 0) {
      const sustained = i.poolWaitingSeconds >= POOL_WAIT_SUSTAINED_SECONDS;
      out.push({
        severity: sustained ? "HIGH" : "MEDIUM",
        metric: "pool.waiting",
        instanceId: i.id,
        message:
          `pool waiting for ${secs(i.poolWaitingSeconds)} ${on(i)}: ${i.pool.waiting} caller(s) waiting, ` +
          `${i.pool.inUse}/${i.pool.size} connections in use: raise DATABASE_POOL_SIZE or add an instance`,
      });
    } else if (ratio >= t.pool.warning && i.pool.size > 0) {
      out.push({
        severity: ratio >= t.pool.critical ? "HIGH" : "MEDIUM",
        metric: "pool.inUse",
        instanceId: i.id,
        message: `database pool ${pct(ratio)} in use ${on(i)} (${i.pool.inUse}/${i.pool.size}): raise DATABASE_POOL_SIZE before callers wait`,
      });
    }
    if (i.memoryUsed >= t.memory.warning) {
      out.push({
        severity: i.memoryUsed >= t.memory.critical ? "CRITICAL" : "HIGH",
        metric: "memory",
        instanceId: i.id,
        message: `memory ${pct(i.memoryUsed)} in use ${on(i)}: lower SCAN_WORKERS there, add memory or add an instance`,
      });
    }
    if (i.cpu >= t.cpu.warning) {
      out.push({
        severity: i.cpu >= t.cpu.critical ? "HIGH" : "MEDIUM",
        metric: "cpu",
        instanceId: i.id,
        message: `machine CPU ${pct(i.cpu)} ${on(i)}: lower SCAN_WORKERS or DETECTION_THREADS there, or add an instance`,
      });
    }
    if (i.eventLoopDelayMs >= t.eventLoopDelay.warning) {
      out.push({
        severity: i.eventLoopDelayMs >= t.eventLoopDelay.critical ? "HIGH" : "MEDIUM",
        metric: "eventLoopDelay",
        instanceId: i.id,
        message: `event-loop delay p99 ${Math.round(i.eventLoopDelayMs)} ms ${on(i)}: requests stall; run detection in worker threads (DETECTION_THREADS) or run scan workers apart (SCAN_WORKERS=0 on API instances)`,
      });
    }
  }

  // Queue advice only while scans wait: the hour's p95 outlives an emptied queue.
  const wait = input.queueWaitP95Seconds;
  if (input.queued > 0 && input.capacityHold) {
    out.push({
      severity: "HIGH",
      metric: "queueWait",
      message: `${input.queued} scan(s) wait in the queue because ${input.capacityHold}: they start when it clears; relieve that instance or add one`,
    });
  } else if (input.queued > 0 && wait !== null && wait >= t.queueWait.warning) {
    out.push({
      severity: wait >= t.queueWait.critical ? "CRITICAL" : "HIGH",
      metric: "queueWait",
      message:
        `queue wait p95 over ${secs(t.queueWait.warning)} (now ${secs(wait)}, ${input.queued} queued, ${input.running}/${input.maxConcurrent} running): ` +
        `add scan workers (npm run worker, SCAN_WORKERS) or raise MAX_CONCURRENT_SCANS`,
    });
  }

  const usual = new Map(input.durations.filter((d) => d.count >= OVERDUE_MIN_SAMPLES && d.p95Seconds > 0).map((d) => [d.kind, d]));
  const overdue = input.runningScans
    .map((s) => ({ s, d: usual.get(s.kind) }))
    .filter((x): x is { s: RuleRunningScan; d: RuleDuration } => Boolean(x.d) && x.s.runningSeconds >= OVERDUE_MIN_SECONDS && x.s.runningSeconds >= OVERDUE_FACTOR * x.d!.p95Seconds)
    .sort((a, b) => b.s.runningSeconds / b.d.p95Seconds - a.s.runningSeconds / a.d.p95Seconds);
  for (const { s, d } of overdue.slice(0, 5)) {
    const factor = Math.floor((s.runningSeconds / d.p95Seconds) * 10) / 10;
    out.push({
      severity: "MEDIUM",
      metric: "scanDuration",
      message: `scan ${s.id} (${s.kind}) running ${factor}x longer than its kind's usual (running ${secs(s.runningSeconds)}, p95 ${secs(d.p95Seconds)}): inspect it, cancel it if it is stuck`,
    });
  }
  if (overdue.length > 5) {
    out.push({ severity: "MEDIUM", metric: "scanDuration", message: `${overdue.length - 5} more scans running over ${OVERDUE_FACTOR}x their kind's p95: inspect the scan workers` });
  }

  for (const f of input.forecasts) {
    const eta = f.forecast.secondsUntilLimit;
    if (eta === null || eta > FORECAST_HORIZON_SECONDS) continue;
    const severity: RecommendationSeverity = eta <= 900 ? "HIGH" : "MEDIUM";
    if (f.metric === "memory") {
      out.push({
        severity,
        metric: "forecast.memory",
        instanceId: f.instanceId,
        message:
          `memory ${f.hostname ? `on ${f.hostname} ` : ""}reaches ${pct(f.forecast.limit)} in about ${mins(eta)} at the last 30 min's trend ` +
          `(+${Math.round(f.forecast.slopePerMinute * 1000) / 10} points/min): add memory or an instance, or look for a leak`,
      });
    } else {
      out.push({
        severity,
        metric: "forecast.queuedScans",
        message:
          `scan queue reaches MAX_QUEUED_SCANS (${f.forecast.limit}) in about ${mins(eta)} at the last 30 min's trend ` +
          `(+${Math.round(f.forecast.slopePerMinute * 10) / 10} scans/min): add scan workers before new scans are refused`,
      });
    }
  }

  return out.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
}
