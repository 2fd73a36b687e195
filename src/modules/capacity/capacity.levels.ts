/**
 * Levels, hysteresis and alert transitions: pure functions, no I/O (table-tested in
 * test/unit/capacity/levels.test.ts).
 */

export type Level = "OK" | "WARNING" | "CRITICAL";

const RANK: Record<Level, number> = { OK: 0, WARNING: 1, CRITICAL: 2 };

export const levelRank = (level: Level): number => RANK[level];
export const maxLevel = (...levels: Level[]): Level => levels.reduce<Level>((a, b) => (RANK[b] > RANK[a] ? b : a), "OK");

/** The figures that have thresholds. */
export type MetricName = "memory" | "cpu" | "pool" | "queueWait" | "eventLoopDelay";
export const METRICS: readonly MetricName[] = ["memory", "cpu", "pool", "queueWait", "eventLoopDelay"];

export interface Threshold {
  warning: number;
  critical: number;
  /**
   * Hysteresis: a level holds until the value is below `threshold - max(clearAbsolute,
   * threshold * clearRelative)`, so a value on the line does not flap.
   */
  clearAbsolute: number;
  clearRelative: number;
}

export type Thresholds = Record<MetricName, Threshold>;

/** Units for messages: ratios are shown as percentages, durations in their unit. */
export const METRIC_UNITS: Record<MetricName, { label: string; format: (v: number) => string }> = {
  memory: { label: "memory in use", format: pct },
  cpu: { label: "machine CPU", format: pct },
  pool: { label: "database pool in use", format: pct },
  queueWait: { label: "scan queue wait p95", format: (v) => `${round(v)} s` },
  eventLoopDelay: { label: "event-loop delay p99", format: (v) => `${round(v)} ms` },
};

function pct(v: number): string {
  return `${Math.round(v * 1000) / 10}%`;
}
function round(v: number): number {
  return v >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
}

/** Ratios clear 5 percentage points below their threshold; durations 10% below. */
export function defaultThresholds(values: {
  memory: [number, number];
  cpu: [number, number];
  pool: [number, number];
  /** seconds */
  queueWait: [number, number];
  /** milliseconds */
  eventLoopDelay: [number, number];
}): Thresholds {
  const ratio = ([warning, critical]: [number, number]): Threshold => ({ warning, critical, clearAbsolute: 0.05, clearRelative: 0 });
  const duration = ([warning, critical]: [number, number]): Threshold => ({ warning, critical, clearAbsolute: 0, clearRelative: 0.1 });
  return {
    memory: ratio(values.memory),
    cpu: ratio(values.cpu),
    pool: ratio(values.pool),
    queueWait: duration(values.queueWait),
    eventLoopDelay: duration(values.eventLoopDelay),
  };
}

/** The original's numbers (memory 85/95 %, CPU 75/90 %, pool 80/95 %), queue wait 60/300 s, loop delay 200/1000 ms. */
export const DEFAULT_THRESHOLDS: Thresholds = defaultThresholds({
  memory: [0.85, 0.95],
  cpu: [0.75, 0.9],
  pool: [0.8, 0.95],
  queueWait: [60, 300],
  eventLoopDelay: [200, 1000],
});

/** The level a value reaches with no history: at or over a threshold counts. */
export function rawLevel(value: number, t: Threshold): Level {
  if (value >= t.critical) return "CRITICAL";
  if (value >= t.warning) return "WARNING";
  return "OK";
}

/** Where a level held at `threshold` is released. */
export function clearPoint(threshold: number, t: Threshold): number {
  return threshold - Math.max(t.clearAbsolute, threshold * t.clearRelative);
}

/**
 * The level with hysteresis: rising is immediate; falling happens only once the value is
 * below the clear point of the level held, and then only as far down as the value allows.
 * A non-finite value (a figure that could not be read) keeps the previous level.
 */
export function levelWithHysteresis(value: number, previous: Level, t: Threshold): Level {
  if (!Number.isFinite(value)) return previous;
  const raw = rawLevel(value, t);
  if (RANK[raw] >= RANK[previous]) return raw;
  if (previous === "CRITICAL" && value > clearPoint(t.critical, t)) return "CRITICAL";
  if (RANK[previous] >= RANK.WARNING && value > clearPoint(t.warning, t)) return "WARNING";
  return raw;
}

/** One alert's state: the level held and since when. */
export interface AlertState {
  metric: MetricName;
  level: Level;
  value: number;
  threshold: number;
  since: Date;
}

export type AlertEventKind = "raised" | "escalated" | "lowered" | "cleared";

export interface AlertEvent {
  kind: AlertEventKind;
  metric: MetricName;
  level: Level;
  previous: Level;
  value: number;
  threshold: number;
  at: Date;
  message: string;
}

export type MetricValues = Partial<Record<MetricName, number>>;

/**
 * One evaluation step: given the alerts held and the new figures, the alerts now held and the
 * transitions (raised, escalated, lowered, cleared) to log, count and publish.
 * Metrics missing from `values` keep their state.
 */
export function evaluateAlerts(
  held: ReadonlyMap<MetricName, AlertState>,
  values: MetricValues,
  thresholds: Thresholds,
  at: Date,
): { held: Map<MetricName, AlertState>; events: AlertEvent[] } {
  const next = new Map(held);
  const events: AlertEvent[] = [];
  for (const metric of METRICS) {
    const value = values[metric];
    if (value === undefined) continue;
    const t = thresholds[metric];
    const before = held.get(metric);
    const previous = before?.level ?? "OK";
    const level = levelWithHysteresis(value, previous, t);
    const threshold = level === "CRITICAL" ? t.critical : level === "WARNING" ? t.warning : previous === "CRITICAL" ? t.critical : t.warning;
    if (level === "OK") {
      next.delete(metric);
    } else {
      next.set(metric, { metric, level, value, threshold, since: level === previous && before ? before.since : at });
    }
    if (level === previous) continue;
    const kind: AlertEventKind = previous === "OK" ? "raised" : level === "OK" ? "cleared" : RANK[level] > RANK[previous] ? "escalated" : "lowered";
    events.push({ kind, metric, level, previous, value, threshold, at, message: alertMessage(kind, metric, level, value, threshold) });
  }
  return { held: next, events };
}

export function alertMessage(kind: AlertEventKind, metric: MetricName, level: Level, value: number, threshold: number): string {
  const u = METRIC_UNITS[metric];
  const shown = `${u.label} ${u.format(value)}`;
  switch (kind) {
    case "raised":
    case "escalated":
      return `${shown} is at or over the ${level.toLowerCase()} threshold of ${u.format(threshold)}`;
    case "lowered":
      return `${shown}: down to ${level.toLowerCase()} (threshold ${u.format(threshold)})`;
    case "cleared":
      return `${shown}: recovered below ${u.format(threshold)}`;
  }
}

/** The message of an alert that is held (for reports). */
export function heldMessage(a: AlertState): string {
  return alertMessage("raised", a.metric, a.level, a.value, a.threshold);
}

/** The overall level: the highest alert held, unless an operator forces one. */
export function overallLevel(held: Iterable<{ level: Level }>, forced?: Level): Level {
  if (forced) return forced;
  let level: Level = "OK";
  for (const a of held) level = maxLevel(level, a.level);
  return level;
}
