/**
 * The capacity report, built from what the monitor gathered: a pure function, no I/O
 * (test/unit/capacity/report.test.ts). The monitor (capacity.service.ts) only gathers: its own
 * latest state, the live instances from PostgreSQL, the views other instances published.
 */
import type { PoolStats } from "../../platform/db/pool.js";
import { MONITOR_UNAVAILABLE } from "../scans/capacity.port.js";
import { OVERRIDE } from "./capacity.admission.js";
import { heldMessage, levelRank, maxLevel, rawLevel, type AlertEvent, type AlertState, type Level, type MetricName, type Thresholds } from "./capacity.levels.js";
import type { LiveInstanceRow, ScanFigures } from "./capacity.repo.js";
import { recommend, type RuleForecast, type RuleRecommendation } from "./capacity.rules.js";

export interface AlertView {
  level: Level;
  metric: string;
  message: string;
  at: Date;
  instanceId: string | null;
  value: number;
  threshold: number;
  /** null while the alert holds; when it cleared otherwise */
  clearedAt: Date | null;
}

export interface InstanceFigures {
  /** machine CPU, mean over the load window (what the level judges) */
  cpu: number;
  processCpu: number;
  memoryUsed: number;
  rssBytes: number;
  /** event-loop delay p99, mean over the load window (what the level judges) */
  eventLoopDelayMs: number;
  pool: PoolStats;
  clients: number;
  subscriptions: number;
}

export interface InstanceReport extends InstanceFigures {
  id: string;
  kind: string;
  hostname: string;
  pid: number;
  startedAt: Date;
  heartbeatAt: Date;
  sampledAt: Date | null;
  level: Level;
  poolWaitingSeconds: number;
}

export interface ForecastView {
  metric: "memory" | "queuedScans";
  instanceId: string | null;
  current: number;
  limit: number;
  slopePerMinute: number;
  secondsUntilLimit: number | null;
}

export interface CapacityReportData {
  at: Date;
  level: Level;
  forcedLevel: Level | null;
  activeUsers: number;
  connectedClients: number;
  subscriptions: number;
  cpu: number;
  memoryUsed: number;
  eventLoopDelayMs: number;
  scans: {
    running: number;
    queued: number;
    maxConcurrent: number;
    maxPerUser: number;
    maxQueued: number;
    queueWaitP50Seconds: number | null;
    queueWaitP95Seconds: number | null;
    durations: ScanFigures["durations"];
    /** why new scans wait in the queue (a live instance is CRITICAL); null when they may start */
    capacityHold: string | null;
  };
  database: PoolStats;
  recommendations: RuleRecommendation[];
  alerts: AlertView[];
  instances: InstanceReport[];
  forecasts: ForecastView[];
  /** false when the report was built from memory because PostgreSQL did not answer */
  fromDatabase: boolean;
}

/** What one instance publishes on `topics.capacity()` after each sample (JSON-safe). */
export interface InstanceView {
  v: 1;
  instanceId: string;
  kind: string;
  hostname: string;
  pid: number;
  startedAt: string;
  at: string;
  /** the instance's own level (its forced level when set) */
  level: Level;
  /** CAPACITY_FORCE_LEVEL of that instance (absent from older instances) */
  forcedLevel?: Level | null;
  /** metrics held at CRITICAL, or OVERRIDE (absent from older instances) */
  critical?: string[];
  figures: InstanceFigures;
  poolWaitingSeconds: number;
  alerts: Array<{ metric: string; level: Level; value: number; threshold: number; since: string; message: string }>;
  cleared: Array<{ metric: string; level: Level; value: number; threshold: number; at: string; message: string }>;
  forecasts: ForecastView[];
}

/** The settings the report shows or judges with. */
export interface ReportSettings {
  thresholds: Thresholds;
  forceLevel?: Level;
  maxConcurrent: number;
  maxPerUser: number;
  maxQueued: number;
}

export interface ReportInput {
  settings: ReportSettings;
  /** this instance's view of its latest sample */
  self: InstanceView;
  /** this instance's latest sample: whether its database part succeeded, and the system-wide figures */
  state: { takenAt: number; complete: boolean; scans: ScanFigures | null; activeUsers: number | null };
  /** live instances from PostgreSQL; null when it did not answer */
  rows: LiveInstanceRow[] | null;
  /** fresh views other instances published */
  peers: readonly InstanceView[];
  /** system-wide alerts (queue wait) this instance holds, and those cleared recently */
  system: { held: readonly AlertState[]; cleared: readonly AlertEvent[] };
  /** why new scans wait (see capacity.admission.ts) */
  capacityHold: string | null;
}

export function figuresOf(s: NonNullable<LiveInstanceRow["sample"]>): InstanceFigures {
  return {
    cpu: s.cpu,
    processCpu: s.processCpu,
    memoryUsed: s.memoryUsed,
    rssBytes: s.rssBytes,
    eventLoopDelayMs: s.eventLoopDelayMs,
    pool: { size: s.poolSize, inUse: s.poolInUse, idle: s.poolIdle, waiting: s.poolWaiting },
    clients: s.wsClients,
    subscriptions: s.subscriptions,
  };
}

const overrideAlert = (level: Level, instanceId: string | null, host: string | null, at: Date): AlertView => ({
  level,
  metric: OVERRIDE,
  message: `level forced to ${level} by CAPACITY_FORCE_LEVEL${host ? ` (${host})` : ""}`,
  at,
  instanceId,
  value: levelRank(level),
  threshold: 0,
  clearedAt: null,
});

/** One instance's entry and alerts: from its published view when that is the newer, else its stored sample. */
function instanceEntry(
  id: string,
  row: LiveInstanceRow | null,
  view: InstanceView | null,
  isSelf: boolean,
  t: Thresholds,
): { instance: InstanceReport; alerts: AlertView[] } | null {
  const useView = view !== null && (!row?.sample || new Date(view.at) >= row.sample.at);
  const figures: InstanceFigures | null = useView ? view.figures : row?.sample ? figuresOf(row.sample) : null;
  if (!figures) return null; // registered but never sampled
  const alerts: AlertView[] = [];
  let level: Level;
  if (view) {
    level = view.level;
    for (const a of view.alerts) alerts.push({ level: a.level, metric: a.metric, message: `${a.message} (${view.hostname})`, at: new Date(a.since), instanceId: id, value: a.value, threshold: a.threshold, clearedAt: null });
    for (const c of view.cleared) alerts.push({ level: c.level, metric: c.metric, message: `${c.message} (${view.hostname})`, at: new Date(c.at), instanceId: id, value: c.value, threshold: c.threshold, clearedAt: new Date(c.at) });
    if (view.forcedLevel && !isSelf) alerts.push(overrideAlert(view.forcedLevel, id, view.hostname, new Date(view.at)));
  } else {
    // No view from that instance (no shared pub/sub): its stored sample, judged without history;
    // the level it stored for itself (hysteresis and forced level applied) wins when there is one.
    const sample = row!.sample!;
    let judged: Level = "OK";
    const values: Array<[MetricName, number]> = [
      ["memory", figures.memoryUsed],
      ["cpu", figures.cpu],
      ["pool", figures.pool.size > 0 ? figures.pool.inUse / figures.pool.size : 0],
      ["eventLoopDelay", figures.eventLoopDelayMs],
    ];
    for (const [metric, value] of values) {
      const l = rawLevel(value, t[metric]);
      if (l === "OK") continue;
      judged = maxLevel(judged, l);
      const threshold = l === "CRITICAL" ? t[metric].critical : t[metric].warning;
      alerts.push({ level: l, metric, message: `${heldMessage({ metric, level: l, value, threshold, since: sample.at })} (${row!.hostname})`, at: sample.at, instanceId: id, value, threshold, clearedAt: null });
    }
    level = sample.level ?? judged;
    if (sample.criticalMetrics.includes(OVERRIDE)) alerts.push(overrideAlert("CRITICAL", id, row!.hostname, sample.at));
  }
  return {
    alerts,
    instance: {
      id,
      kind: row?.kind ?? view!.kind,
      hostname: row?.hostname ?? view!.hostname,
      pid: row?.pid ?? view!.pid,
      startedAt: row?.startedAt ?? new Date(view!.startedAt),
      heartbeatAt: row?.heartbeatAt ?? new Date(view!.at),
      sampledAt: useView ? new Date(view.at) : (row?.sample?.at ?? null),
      level,
      poolWaitingSeconds: view?.poolWaitingSeconds ?? 0,
      ...figures,
    },
  };
}

/** Active alerts first, then the worst, then the newest. */
function alertOrder(a: AlertView, b: AlertView): number {
  return Number(a.clearedAt !== null) - Number(b.clearedAt !== null) || levelRank(b.level) - levelRank(a.level) || b.at.getTime() - a.at.getTime();
}

/**
 * The report over every live instance: PostgreSQL's list of live ones (the truth across
 * instances, with or without Redis), each with the newer of its stored sample and its published
 * view; system-wide figures from this instance's latest sample (every instance reads the same table).
 */
export function buildReport(input: ReportInput): CapacityReportData {
  const { settings, self, state, rows, peers } = input;
  const selfId = self.instanceId;
  const peerById = new Map(peers.map((v) => [v.instanceId, v]));

  const instances: InstanceReport[] = [];
  const alerts: AlertView[] = [];
  const ids = rows ? rows.map((r) => r.id) : [selfId, ...peerById.keys()];
  if (!ids.includes(selfId)) ids.unshift(selfId);
  for (const id of ids) {
    const row = rows?.find((r) => r.id === id) ?? null;
    const view = id === selfId ? self : (peerById.get(id) ?? null);
    const entry = instanceEntry(id, row, view, id === selfId, settings.thresholds);
    if (!entry) continue;
    instances.push(entry.instance);
    alerts.push(...entry.alerts);
  }

  for (const a of input.system.held) {
    alerts.push({ level: a.level, metric: a.metric, message: heldMessage(a), at: a.since, instanceId: null, value: a.value, threshold: a.threshold, clearedAt: null });
  }
  for (const c of input.system.cleared) {
    alerts.push({ level: c.previous, metric: c.metric, message: c.message, at: c.at, instanceId: null, value: c.value, threshold: c.threshold, clearedAt: c.at });
  }
  const forced = settings.forceLevel ?? null;
  if (forced) alerts.push(overrideAlert(forced, selfId, null, new Date(state.takenAt)));
  alerts.sort(alertOrder);

  const scans = state.scans;
  const forecasts: ForecastView[] = [...self.forecasts, ...peers.filter((p) => ids.includes(p.instanceId)).flatMap((p) => p.forecasts)];
  const hostOf = new Map(instances.map((i) => [i.id, i.hostname]));
  const recommendations = recommend({
    instances: instances.map((i) => ({ id: i.id, hostname: i.hostname, cpu: i.cpu, memoryUsed: i.memoryUsed, eventLoopDelayMs: i.eventLoopDelayMs, pool: i.pool, poolWaitingSeconds: i.poolWaitingSeconds })),
    thresholds: settings.thresholds,
    queued: scans?.queued ?? 0,
    running: scans?.running ?? 0,
    maxConcurrent: settings.maxConcurrent,
    maxQueued: settings.maxQueued,
    queueWaitP95Seconds: scans?.waitP95Seconds ?? null,
    durations: scans?.durations ?? [],
    runningScans: scans?.runningScans ?? [],
    capacityHold: input.capacityHold,
    forecasts: forecasts.map<RuleForecast>((f) => ({
      metric: f.metric,
      instanceId: f.instanceId ?? undefined,
      hostname: f.instanceId ? hostOf.get(f.instanceId) : undefined,
      forecast: { current: f.current, limit: f.limit, slopePerMinute: f.slopePerMinute, secondsUntilLimit: f.secondsUntilLimit, r2: 1 },
    })),
  });
  if (!state.complete || !rows) {
    recommendations.unshift({ severity: "HIGH", metric: "monitor", message: `${MONITOR_UNAVAILABLE}: PostgreSQL did not answer the last sample; new scans are refused until it does` });
  }

  // The level: every instance's own (a forced level replaces that instance's figures), and the
  // system-wide alerts unless this instance's level is forced.
  let level = instances.reduce<Level>((l, i) => maxLevel(l, i.level), forced ?? "OK");
  if (!forced) for (const a of input.system.held) level = maxLevel(level, a.level);

  const sum = (pick: (i: InstanceReport) => number) => instances.reduce((n, i) => n + pick(i), 0);
  const max = (pick: (i: InstanceReport) => number) => instances.reduce((n, i) => Math.max(n, pick(i)), 0);
  return {
    at: new Date(state.takenAt),
    level,
    forcedLevel: forced,
    activeUsers: state.activeUsers ?? 0,
    connectedClients: sum((i) => i.clients),
    subscriptions: sum((i) => i.subscriptions),
    // The instance that limits: the hottest CPU and the fullest memory (per instance in `instances`).
    cpu: max((i) => i.cpu),
    memoryUsed: max((i) => i.memoryUsed),
    eventLoopDelayMs: max((i) => i.eventLoopDelayMs),
    scans: {
      running: scans?.running ?? 0,
      queued: scans?.queued ?? 0,
      maxConcurrent: settings.maxConcurrent,
      maxPerUser: settings.maxPerUser,
      maxQueued: settings.maxQueued,
      queueWaitP50Seconds: scans?.waitP50Seconds ?? null,
      queueWaitP95Seconds: scans?.waitP95Seconds ?? null,
      durations: scans?.durations ?? [],
      capacityHold: input.capacityHold,
    },
    database: {
      size: sum((i) => i.pool.size),
      inUse: sum((i) => i.pool.inUse),
      idle: sum((i) => i.pool.idle),
      waiting: sum((i) => i.pool.waiting),
    },
    recommendations,
    alerts,
    instances,
    forecasts,
    fromDatabase: rows !== null,
  };
}
