import { hostname as osHostname } from "node:os";
import type pg from "pg";
import type { Config } from "../../config/config.js";
import type { PrismaClient } from "../../generated/prisma/client.js";
import { poolStats, type PoolStats } from "../../platform/db/pool.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import { topics, type PubSub } from "../../platform/pubsub/pubsub.js";
import { withTimeout } from "../../shared/async.js";
import { forecastLimit, type Forecast, type Point } from "./capacity.forecast.js";
import {
  defaultThresholds,
  evaluateAlerts,
  heldMessage,
  levelRank,
  maxLevel,
  overallLevel,
  rawLevel,
  type AlertEvent,
  type AlertState,
  type Level,
  type MetricName,
  type MetricValues,
  type Thresholds,
} from "./capacity.levels.js";
import { CapacityMetrics } from "./capacity.metrics.js";
import { CapacityRepo, type HistoryPoint, type LiveInstanceRow, type ScanFigures } from "./capacity.repo.js";
import { recommend, type RuleForecast, type RuleInstance, type RuleRecommendation } from "./capacity.rules.js";
import { HostSampler, type HostFigures } from "./capacity.sampler.js";

/** What the scan admission gets back from {@link CapacityMonitor.admissionVerdict}. */
export type AdmissionVerdict =
  | { allowed: true }
  | { allowed: false; level: "CRITICAL"; retryAfterSeconds: number; reason: string };

export const MONITOR_UNAVAILABLE = "capacity monitor unavailable";

export interface CapacitySettings {
  /** @default 5_000 */
  intervalMs: number;
  /** @default 7 days */
  retentionMs: number;
  thresholds: Thresholds;
  /** operator override of the computed level */
  forceLevel?: Level;
  maxConcurrent: number;
  maxPerUser: number;
  maxQueued: number;
}

export function capacitySettingsFrom(config: Config): CapacitySettings {
  return {
    intervalMs: config.CAPACITY_SAMPLE_INTERVAL,
    retentionMs: config.CAPACITY_RETENTION,
    thresholds: defaultThresholds({
      memory: [config.CAPACITY_MEMORY_WARN, config.CAPACITY_MEMORY_CRIT],
      cpu: [config.CAPACITY_CPU_WARN, config.CAPACITY_CPU_CRIT],
      pool: [config.CAPACITY_POOL_WARN, config.CAPACITY_POOL_CRIT],
      queueWait: [config.CAPACITY_QUEUE_WAIT_WARN / 1000, config.CAPACITY_QUEUE_WAIT_CRIT / 1000],
      eventLoopDelay: [config.CAPACITY_LOOP_DELAY_WARN, config.CAPACITY_LOOP_DELAY_CRIT],
    }),
    forceLevel: config.CAPACITY_FORCE_LEVEL,
    maxConcurrent: config.MAX_CONCURRENT_SCANS,
    maxPerUser: config.MAX_SCANS_PER_USER,
    maxQueued: config.MAX_QUEUED_SCANS,
  };
}

export interface CapacityMonitorOptions {
  instanceId: string;
  /** what the Instance row says this process is. @default "api" */
  kind?: string;
  prisma: PrismaClient;
  /** the pool to measure (the one Prisma uses) */
  pool: pg.Pool;
  pubsub: PubSub;
  activity: { activeUsers(): Promise<number> };
  /** WebSocket figures; read lazily because the HTTP server is built after the services */
  connections?: () => { clients: number; subscriptions: number };
  metrics?: Metrics;
  log: Logger;
  settings: CapacitySettings;
}

/** Metrics judged per instance; queue wait is system-wide and judged once per report. */
/** Time constant of the machine CPU average the levels use. */
const CPU_AVERAGE_MS = 60_000;

const INSTANCE_METRICS: readonly MetricName[] = ["memory", "cpu", "pool", "eventLoopDelay"];
/** Cleared alerts stay in reports this long, so a dashboard sees the recovery. */
const CLEARED_VISIBLE_MS = 10 * 60_000;
/** Samples the forecasts fit. */
const TREND_WINDOW_MS = 30 * 60_000;

export interface AlertView {
  level: Level;
  metric: string;
  message: string;
  at: Date;
  instanceId: string | null;
  value: number;
  threshold: number;
  clearedAt: Date | null;
}

export interface InstanceFigures {
  cpu: number;
  processCpu: number;
  memoryUsed: number;
  rssBytes: number;
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
interface InstanceView {
  v: 1;
  instanceId: string;
  kind: string;
  hostname: string;
  pid: number;
  startedAt: string;
  at: string;
  level: Level;
  figures: InstanceFigures;
  poolWaitingSeconds: number;
  alerts: Array<{ metric: string; level: Level; value: number; threshold: number; since: string; message: string }>;
  cleared: Array<{ metric: string; level: Level; value: number; threshold: number; at: string; message: string }>;
  forecasts: ForecastView[];
}

interface OwnState {
  /** local clock, ms */
  takenAt: number;
  /** whether the database part (scan figures, heartbeat, insert) succeeded */
  complete: boolean;
  host: HostFigures;
  figures: InstanceFigures;
  scans: ScanFigures | null;
  activeUsers: number | null;
  forecasts: ForecastView[];
}

/**
 * The capacity monitor of one instance: samples every `intervalMs` (host figures, pool,
 * WebSockets, system-wide scan figures from one query), heartbeats and stores the sample,
 * judges thresholds with hysteresis, publishes its view on `topics.capacity()`, and answers
 * reports (all live instances, from PostgreSQL), history and the admission veto.
 */
export class CapacityMonitor {
  readonly repo: CapacityRepo;
  private readonly host = new HostSampler();
  private readonly m: CapacityMetrics | null;
  private readonly identity: { id: string; kind: string; hostname: string; pid: number; startedAt: Date };
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private sampling: Promise<OwnState> | null = null;
  private latest: OwnState | null = null;
  private lastComplete: OwnState | null = null;
  private held = new Map<MetricName, AlertState>();
  private systemHeld = new Map<MetricName, AlertState>();
  private cleared: AlertEvent[] = [];
  private poolWaitingSince: number | null = null;
  private cpuAvg = 0;
  private cpuAt: number | null = null;
  private readonly trend: Array<{ t: number; memory: number; queued: number | null }> = [];
  private readonly peers = new Map<string, { view: InstanceView; receivedAt: number }>();
  private unlisten: (() => Promise<void>) | null = null;
  private version = 0;
  private cached: { version: number; at: number; report: Promise<CapacityReportData> } | null = null;
  private samplesSincePrune = 0;
  private lastDbWarning = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly o: CapacityMonitorOptions) {
    this.repo = new CapacityRepo(o.prisma);
    this.m = o.metrics ? new CapacityMetrics(o.metrics) : null;
    this.identity = { id: o.instanceId, kind: o.kind ?? "api", hostname: osHostname(), pid: process.pid, startedAt: new Date() };
  }

  get intervalMs(): number {
    return this.o.settings.intervalMs;
  }

  /** An instance is live while its heartbeat is within 3 intervals. */
  get liveMs(): number {
    return 3 * this.o.settings.intervalMs;
  }

  /** Starts sampling (first sample at once) and listening to other instances. Idempotent. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.host.restart(); // start-up's own stalls are not load
    this.unlisten = await this.o.pubsub.listen(topics.capacity(), (payload) => this.ingest(payload));
    const loop = async () => {
      if (!this.running) return;
      await this.sampleNow().catch(() => undefined);
      if (!this.running) return;
      this.timer = setTimeout(() => void loop(), this.o.settings.intervalMs);
      this.timer.unref();
    };
    await loop();
  }

  /** Stops sampling and listening. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.running = false;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.sampling?.catch(() => undefined);
      await this.unlisten?.().catch(() => undefined);
      this.host.close();
    })();
    return this.closing;
  }

  /** Takes one sample now; concurrent callers share it. Never rejects for a database failure (see `complete`). */
  sampleNow(): Promise<OwnState> {
    this.sampling ??= this.takeSample().finally(() => (this.sampling = null));
    return this.sampling;
  }

  private async takeSample(): Promise<OwnState> {
    const started = process.hrtime.bigint();
    const host = await this.host.read();
    const pool = poolStats(this.o.pool);
    const conn = this.o.connections?.() ?? { clients: 0, subscriptions: 0 };
    const now = Date.now();
    if (pool.waiting > 0) this.poolWaitingSince ??= now;
    else this.poolWaitingSince = null;
    // Machine CPU as a 1-minute exponentially weighted average (like a load average): a burst
    // (start-up, a scan's detection pass) is not overload, and the level, the alerts and the
    // admission veto should not flap with it. Seeded from 0, so a fresh instance starts calm.
    const dt = this.cpuAt === null ? this.o.settings.intervalMs : Math.max(0, now - this.cpuAt);
    this.cpuAvg += (1 - Math.exp(-dt / CPU_AVERAGE_MS)) * (host.cpu - this.cpuAvg);
    this.cpuAt = now;
    const figures: InstanceFigures = {
      cpu: this.cpuAvg,
      processCpu: host.processCpu,
      memoryUsed: host.memoryUsed,
      rssBytes: host.rssBytes,
      eventLoopDelayMs: host.eventLoopDelayMs,
      pool,
      clients: conn.clients,
      subscriptions: conn.subscriptions,
    };

    // The database part: bounded, so a saturated pool or a dead database delays nothing but itself.
    let scans: ScanFigures | null = null;
    let activeUsers: number | null = null;
    let complete = false;
    try {
      const dbPart = async () => {
        scans = await this.repo.scanFigures();
        activeUsers = await this.o.activity.activeUsers();
        await this.repo.record(this.identity, {
          ...figures,
          poolSize: pool.size,
          poolInUse: pool.inUse,
          poolIdle: pool.idle,
          poolWaiting: pool.waiting,
          wsClients: conn.clients,
          runningScans: scans.running,
          queuedScans: scans.queued,
          activeUsers,
        });
      };
      await withTimeout(dbPart(), Math.max(1_000, Math.min(this.o.settings.intervalMs * 2, 10_000)), "capacity sample");
      complete = true;
    } catch (err) {
      this.m?.sampleFailures.inc({ part: "database" });
      if (now - this.lastDbWarning > 60_000) {
        this.lastDbWarning = now;
        this.o.log.warn({ err }, "capacity sample: database part failed; figures kept in memory only");
      }
    }
    if (!complete) {
      // Keep the last known system figures for the report, but the sample does not count as fresh.
      scans = this.lastComplete?.scans ?? null;
      activeUsers = this.lastComplete?.activeUsers ?? null;
    }

    // Thresholds, per instance and system-wide (queue wait), with hysteresis.
    const at = new Date(now);
    const values: MetricValues = {
      memory: figures.memoryUsed,
      cpu: figures.cpu,
      pool: pool.size > 0 ? pool.inUse / pool.size : 0,
      eventLoopDelay: figures.eventLoopDelayMs,
    };
    const own = evaluateAlerts(this.held, values, this.o.settings.thresholds, at);
    const sys = evaluateAlerts(
      this.systemHeld,
      complete && scans ? { queueWait: (scans as ScanFigures).waitP95Seconds ?? 0 } : {},
      this.o.settings.thresholds,
      at,
    );
    this.held = own.held;
    this.systemHeld = sys.held;
    for (const e of [...own.events, ...sys.events]) this.onAlertEvent(e);
    this.cleared = this.cleared.filter((e) => now - e.at.getTime() < CLEARED_VISIBLE_MS);

    // Trend and forecasts.
    this.trend.push({ t: now, memory: figures.memoryUsed, queued: complete && scans ? (scans as ScanFigures).queued : null });
    while (this.trend.length > 0 && now - this.trend[0]!.t > TREND_WINDOW_MS) this.trend.shift();
    const forecasts = this.forecasts(now);

    const state: OwnState = { takenAt: now, complete, host, figures, scans, activeUsers, forecasts };
    this.latest = state;
    if (complete) this.lastComplete = state;
    this.version++;
    this.m?.observe({ level: this.localLevel(), ...figures, activeUsers, scans });
    this.m?.sampleDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);

    await this.o.pubsub.publish(topics.capacity(), this.view(state)).catch((err: unknown) => {
      this.o.log.warn({ err }, "capacity: publish failed");
    });

    if (complete && ++this.samplesSincePrune >= Math.max(12, Math.round(600_000 / this.o.settings.intervalMs))) {
      this.samplesSincePrune = 0;
      void this.repo.prune(this.o.settings.retentionMs).then(
        (n) => n > 0 && this.o.log.info({ deleted: n }, "capacity samples pruned"),
        (err: unknown) => this.o.log.warn({ err }, "capacity prune failed"),
      );
    }
    return state;
  }

  private onAlertEvent(e: AlertEvent): void {
    const fields = { metric: e.metric, level: e.level, previous: e.previous, value: e.value, threshold: e.threshold, instanceId: this.identity.id };
    if (e.kind === "raised" || e.kind === "escalated") {
      this.m?.alerts.inc({ metric: e.metric, level: e.level });
      (e.level === "CRITICAL" ? this.o.log.error : this.o.log.warn).call(this.o.log, fields, `capacity alert ${e.kind}: ${e.message}`);
    } else {
      this.o.log.info(fields, `capacity alert ${e.kind}: ${e.message}`);
    }
    if (e.kind === "cleared") this.cleared.push(e);
  }

  private forecasts(now: number): ForecastView[] {
    const out: ForecastView[] = [];
    const mem: Point[] = this.trend.map((p) => ({ t: p.t, value: p.memory }));
    const f = forecastLimit(mem, this.o.settings.thresholds.memory.critical, now);
    if (f) out.push(forecastView("memory", this.identity.id, f));
    const queued: Point[] = this.trend.filter((p) => p.queued !== null).map((p) => ({ t: p.t, value: p.queued! }));
    const q = forecastLimit(queued, this.o.settings.maxQueued, now);
    if (q) out.push(forecastView("queuedScans", null, q));
    return out;
  }

  /** This instance's level: its own alerts and the system-wide ones, or the forced level. */
  private localLevel(): Level {
    return overallLevel([...this.held.values(), ...this.systemHeld.values()], this.o.settings.forceLevel);
  }

  private view(s: OwnState): InstanceView {
    return {
      v: 1,
      instanceId: this.identity.id,
      kind: this.identity.kind,
      hostname: this.identity.hostname,
      pid: this.identity.pid,
      startedAt: this.identity.startedAt.toISOString(),
      at: new Date(s.takenAt).toISOString(),
      level: overallLevel(this.held.values(), this.o.settings.forceLevel),
      figures: s.figures,
      poolWaitingSeconds: this.poolWaitingSince === null ? 0 : (s.takenAt - this.poolWaitingSince) / 1000,
      alerts: [...this.held.values()].map((a) => ({ metric: a.metric, level: a.level, value: a.value, threshold: a.threshold, since: a.since.toISOString(), message: heldMessage(a) })),
      cleared: this.cleared.filter((e) => INSTANCE_METRICS.includes(e.metric)).map((e) => ({ metric: e.metric, level: e.previous, value: e.value, threshold: e.threshold, at: e.at.toISOString(), message: e.message })),
      forecasts: s.forecasts.filter((f) => f.metric === "memory"),
    };
  }

  /** Takes in another instance's view (our own comes back too, and is ignored). */
  ingest(payload: unknown): void {
    const v = payload as Partial<InstanceView> | null;
    if (!v || v.v !== 1 || typeof v.instanceId !== "string" || v.instanceId === this.identity.id) return;
    this.peers.set(v.instanceId, { view: v as InstanceView, receivedAt: Date.now() });
    this.version++;
  }

  /**
   * The async iterable behind `capacityUpdates`: one tick at once (the current report first),
   * then one per sample of any instance that reaches us. Its `return()` unsubscribes at once
   * (an async generator could not while waiting).
   */
  updates(): AsyncIterableIterator<unknown> {
    const inner = this.o.pubsub.subscribe(topics.capacity());
    let first = true;
    const it: AsyncIterableIterator<unknown> = {
      next: async () => {
        if (first) {
          first = false;
          return { value: { initial: true }, done: false };
        }
        const r = await inner.next();
        if (!r.done) this.ingest(r.value);
        return r;
      },
      return: async () => inner.return?.() ?? { value: undefined, done: true },
      throw: async (e?: unknown) => inner.throw?.(e) ?? Promise.reject(e),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /**
   * The report over every live instance. Shared between concurrent callers and reused until the
   * next sample or view arrives (at most 1 s), so N subscribers cost one read per update.
   */
  report(): Promise<CapacityReportData> {
    const now = Date.now();
    if (this.cached && this.cached.version === this.version && now - this.cached.at < 1_000) return this.cached.report;
    const report = this.buildReport();
    this.cached = { version: this.version, at: now, report };
    report.catch(() => {
      if (this.cached?.report === report) this.cached = null;
    });
    return report;
  }

  private async buildReport(): Promise<CapacityReportData> {
    const state = this.latest ?? (await this.sampleNow());
    const now = Date.now();
    let rows: LiveInstanceRow[] | null = null;
    try {
      rows = await withTimeout(this.repo.liveInstances(this.liveMs), 5_000, "capacity report");
    } catch (err) {
      this.o.log.warn({ err }, "capacity report: database did not answer; reporting from memory");
    }
    const freshPeers = [...this.peers.values()].filter((p) => now - p.receivedAt <= this.liveMs).map((p) => p.view);
    const peerById = new Map(freshPeers.map((v) => [v.instanceId, v]));
    const ownView = this.view(state);

    // Instances: PostgreSQL's list of live ones (the truth across instances, with or without
    // Redis), figures from the newer of the stored sample and the published view.
    const instances: InstanceReport[] = [];
    const alerts: AlertView[] = [];
    const ids = rows ? rows.map((r) => r.id) : [this.identity.id, ...peerById.keys()];
    if (!ids.includes(this.identity.id)) ids.unshift(this.identity.id);
    for (const id of ids) {
      const row = rows?.find((r) => r.id === id) ?? null;
      const v = id === this.identity.id ? ownView : (peerById.get(id) ?? null);
      const useView = v !== null && (!row?.sample || new Date(v.at) >= row.sample.at);
      const figures: InstanceFigures | null = useView ? v!.figures : row?.sample ? figuresOf(row.sample) : null;
      if (!figures) continue; // registered but never sampled
      let level: Level;
      if (v) {
        level = v.level;
        for (const a of v.alerts) alerts.push({ level: a.level, metric: a.metric, message: `${a.message} (${v.hostname})`, at: new Date(a.since), instanceId: id, value: a.value, threshold: a.threshold, clearedAt: null });
        for (const c of v.cleared) alerts.push({ level: c.level, metric: c.metric, message: `${c.message} (${v.hostname})`, at: new Date(c.at), instanceId: id, value: c.value, threshold: c.threshold, clearedAt: new Date(c.at) });
      } else {
        // No view from that instance (no shared pub/sub): judge its stored sample without history.
        level = "OK";
        const t = this.o.settings.thresholds;
        const vals: Array<[MetricName, number]> = [
          ["memory", figures.memoryUsed],
          ["cpu", figures.cpu],
          ["pool", figures.pool.size > 0 ? figures.pool.inUse / figures.pool.size : 0],
          ["eventLoopDelay", figures.eventLoopDelayMs],
        ];
        for (const [metric, value] of vals) {
          const l = rawLevel(value, t[metric]);
          if (l === "OK") continue;
          level = maxLevel(level, l);
          const threshold = l === "CRITICAL" ? t[metric].critical : t[metric].warning;
          alerts.push({ level: l, metric, message: `${heldMessage({ metric, level: l, value, threshold, since: row!.sample!.at })} (${row!.hostname})`, at: row!.sample!.at, instanceId: id, value, threshold, clearedAt: null });
        }
        if (this.o.settings.forceLevel) level = this.o.settings.forceLevel;
      }
      instances.push({
        id,
        kind: row?.kind ?? v!.kind,
        hostname: row?.hostname ?? v!.hostname,
        pid: row?.pid ?? v!.pid,
        startedAt: row?.startedAt ?? new Date(v!.startedAt),
        heartbeatAt: row?.heartbeatAt ?? new Date(v!.at),
        sampledAt: useView ? new Date(v!.at) : (row?.sample?.at ?? null),
        level,
        poolWaitingSeconds: v?.poolWaitingSeconds ?? 0,
        ...figures,
      });
    }

    // System-wide: our own latest scan figures (every instance reads the same table).
    for (const a of this.systemHeld.values()) {
      alerts.push({ level: a.level, metric: a.metric, message: heldMessage(a), at: a.since, instanceId: null, value: a.value, threshold: a.threshold, clearedAt: null });
    }
    for (const c of this.cleared.filter((e) => !INSTANCE_METRICS.includes(e.metric))) {
      alerts.push({ level: c.previous, metric: c.metric, message: c.message, at: c.at, instanceId: null, value: c.value, threshold: c.threshold, clearedAt: c.at });
    }
    const forced = this.o.settings.forceLevel ?? null;
    if (forced) {
      alerts.push({ level: forced, metric: "override", message: `level forced to ${forced} by CAPACITY_FORCE_LEVEL`, at: new Date(state.takenAt), instanceId: this.identity.id, value: levelRank(forced), threshold: 0, clearedAt: null });
    }
    alerts.sort((a, b) => Number(a.clearedAt !== null) - Number(b.clearedAt !== null) || levelRank(b.level) - levelRank(a.level) || b.at.getTime() - a.at.getTime());

    const scans = state.scans;
    const forecasts: ForecastView[] = [
      ...state.forecasts,
      ...freshPeers.filter((p) => ids.includes(p.instanceId)).flatMap((p) => p.forecasts),
    ];
    const ruleInstances: RuleInstance[] = instances.map((i) => ({ id: i.id, hostname: i.hostname, cpu: i.cpu, memoryUsed: i.memoryUsed, eventLoopDelayMs: i.eventLoopDelayMs, pool: i.pool, poolWaitingSeconds: i.poolWaitingSeconds }));
    const hostOf = new Map(instances.map((i) => [i.id, i.hostname]));
    const recommendations = recommend({
      instances: ruleInstances,
      thresholds: this.o.settings.thresholds,
      queued: scans?.queued ?? 0,
      running: scans?.running ?? 0,
      maxConcurrent: this.o.settings.maxConcurrent,
      maxQueued: this.o.settings.maxQueued,
      queueWaitP95Seconds: scans?.waitP95Seconds ?? null,
      durations: scans?.durations ?? [],
      runningScans: scans?.runningScans ?? [],
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

    const sum = (pick: (i: InstanceReport) => number) => instances.reduce((n, i) => n + pick(i), 0);
    const max = (pick: (i: InstanceReport) => number) => instances.reduce((n, i) => Math.max(n, pick(i)), 0);
    const level = forced ?? alerts.filter((a) => a.clearedAt === null).reduce<Level>((l, a) => maxLevel(l, a.level), "OK");
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
        maxConcurrent: this.o.settings.maxConcurrent,
        maxPerUser: this.o.settings.maxPerUser,
        maxQueued: this.o.settings.maxQueued,
        queueWaitP50Seconds: scans?.waitP50Seconds ?? null,
        queueWaitP95Seconds: scans?.waitP95Seconds ?? null,
        durations: scans?.durations ?? [],
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

  /** Chart points over the last `minutes` (1..10080), at most ~120. */
  history(minutes: number): Promise<HistoryPoint[]> {
    return this.repo.history(minutes, Math.ceil(this.o.settings.intervalMs / 1000));
  }

  /**
   * The scan admission's question, answered from the latest sample (re-sampled only when it
   * is older than 3 intervals). Refuses at CRITICAL, and refuses when the monitor cannot
   * tell: a monitor that fails must not let everything through.
   */
  async admissionVerdict(): Promise<AdmissionVerdict> {
    const retryAfterSeconds = Math.max(30, Math.ceil((6 * this.o.settings.intervalMs) / 1000));
    const refuse = (reason: string): AdmissionVerdict => ({ allowed: false, level: "CRITICAL", retryAfterSeconds, reason });
    try {
      let s = this.lastComplete;
      if (!s || Date.now() - s.takenAt > this.liveMs) {
        const fresh = await withTimeout(this.sampleNow(), 5_000, "capacity resample");
        s = fresh.complete ? fresh : null;
      }
      if (!s) return refuse(MONITOR_UNAVAILABLE);
      const level = this.admissionLevel();
      if (level !== "CRITICAL") return { allowed: true };
      const why = [...this.held.values(), ...this.systemHeld.values()].filter((a) => a.level === "CRITICAL").map(heldMessage);
      const peers = [...this.peers.values()].filter((p) => Date.now() - p.receivedAt <= this.liveMs && p.view.level === "CRITICAL").map((p) => `instance ${p.view.hostname} (${p.view.instanceId}) is CRITICAL`);
      const reason = this.o.settings.forceLevel === "CRITICAL" ? "capacity level forced to CRITICAL (CAPACITY_FORCE_LEVEL)" : `capacity CRITICAL: ${[...why, ...peers].join("; ") || "threshold exceeded"}`;
      return refuse(reason);
    } catch {
      return refuse(MONITOR_UNAVAILABLE);
    }
  }

  /** This instance's level and that of every live peer we have heard from (forced level wins). */
  private admissionLevel(): Level {
    if (this.o.settings.forceLevel) return this.o.settings.forceLevel;
    const now = Date.now();
    let level = this.localLevel();
    for (const p of this.peers.values()) if (now - p.receivedAt <= this.liveMs) level = maxLevel(level, p.view.level);
    return level;
  }
}

function figuresOf(s: NonNullable<LiveInstanceRow["sample"]>): InstanceFigures {
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

function forecastView(metric: "memory" | "queuedScans", instanceId: string | null, f: Forecast): ForecastView {
  return { metric, instanceId, current: f.current, limit: f.limit, slopePerMinute: f.slopePerMinute, secondsUntilLimit: f.secondsUntilLimit };
}
