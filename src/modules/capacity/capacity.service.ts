import { hostname as osHostname } from "node:os";
import type pg from "pg";
import type { Config } from "../../config/config.js";
import { poolStats } from "../../platform/db/pool.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import { topics, type PubSub } from "../../platform/pubsub/pubsub.js";
import { withTimeout } from "../../shared/async.js";
import type { AdmissionVerdict, CapacityPort } from "../scans/capacity.port.js";
import { criticalMetrics, decideAdmission, holdReason, newestPerInstance, type InstanceLevel } from "./capacity.admission.js";
import { forecastLimit, type Forecast, type Point } from "./capacity.forecast.js";
import {
  defaultThresholds,
  evaluateAlerts,
  heldMessage,
  overallLevel,
  type AlertEvent,
  type AlertState,
  type Level,
  type MetricName,
  type MetricValues,
} from "./capacity.levels.js";
import { CapacityMetrics } from "./capacity.metrics.js";
import { buildReport, type CapacityReportData, type ForecastView, type InstanceFigures, type InstanceView, type ReportSettings } from "./capacity.report.js";
import type { CapacityRepo, HistoryPoint, ScanFigures } from "./capacity.repo.js";
import { HostSampler, type HostFigures } from "./capacity.sampler.js";
import { LOAD_WINDOW_MS, trimWindow, windowMean, type WindowPoint } from "./capacity.window.js";

export interface CapacitySettings extends ReportSettings {
  /** @default 5_000 */
  intervalMs: number;
  /** @default 7 days */
  retentionMs: number;
  /** operator override of this instance's computed level (CAPACITY_FORCE_LEVEL) */
  forceLevel?: Level;
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
  /** the monitor's SQL (injected: tests and benches bring their own) */
  repo: CapacityRepo;
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
const INSTANCE_METRICS: readonly MetricName[] = ["memory", "cpu", "pool", "eventLoopDelay"];
/** Cleared alerts stay in reports this long, so a dashboard sees the recovery. */
const CLEARED_VISIBLE_MS = 10 * 60_000;
/** Samples the forecasts fit. */
const TREND_WINDOW_MS = 30 * 60_000;

interface OwnState {
  /** local clock, ms */
  takenAt: number;
  /** whether the database part (scan figures, heartbeat, insert, live instances) succeeded */
  complete: boolean;
  host: HostFigures;
  figures: InstanceFigures;
  scans: ScanFigures | null;
  activeUsers: number | null;
  forecasts: ForecastView[];
}

/**
 * The capacity monitor of one instance: samples every `intervalMs` (host figures judged over
 * the load window, pool, WebSockets, system-wide scan figures from one query), heartbeats and
 * stores the sample with its own level, judges thresholds with hysteresis, publishes its view on
 * `topics.capacity()`, and answers reports (capacity.report.ts), history, the admission verdict
 * and the claim hold (capacity.admission.ts) from what it gathered.
 */
export class CapacityMonitor implements CapacityPort {
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
  private readonly cpuWindow: WindowPoint[] = [];
  private readonly loopWindow: WindowPoint[] = [];
  private readonly trend: Array<{ t: number; memory: number; queued: number | null }> = [];
  private readonly peers = new Map<string, { view: InstanceView; receivedAt: number }>();
  /** Live peers' levels as stored in PostgreSQL, read with the last complete sample. */
  private storedPeers: { at: number; levels: InstanceLevel[] } = { at: 0, levels: [] };
  private lastHold: string | null = null;
  private readonly holdListeners = new Set<(hold: string | null) => void>();
  private unlisten: (() => Promise<void>) | null = null;
  private version = 0;
  private cached: { version: number; at: number; report: Promise<CapacityReportData> } | null = null;
  private samplesSincePrune = 0;
  private lastDbWarning = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly o: CapacityMonitorOptions) {
    this.repo = o.repo;
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

  /** Stops sampling and listening, and leaves the live instances. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.running = false;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.sampling?.catch(() => undefined);
      await this.unlisten?.().catch(() => undefined);
      this.host.close();
      if (this.lastComplete) {
        await withTimeout(this.repo.leave(this.identity.id), 2_000, "capacity leave").catch((err: unknown) => {
          this.o.log.warn({ err }, "capacity: could not leave the instance list; peers drop this instance once its heartbeat ages");
        });
      }
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
    const now = Date.now();
    const at = new Date(now);
    const figures = this.judgedFigures(host, now);

    // This instance's thresholds first: the level is stored with the sample for peers to read.
    const own = evaluateAlerts(this.held, instanceValues(figures), this.o.settings.thresholds, at);
    this.held = own.held;
    for (const e of own.events) this.onAlertEvent(e);

    const { complete, scans, activeUsers } = await this.databasePart(figures, now);

    // System-wide (queue wait): judged only while scans wait, so an emptied queue clears it.
    const sys = evaluateAlerts(this.systemHeld, complete && scans ? { queueWait: scans.queued > 0 ? (scans.waitP95Seconds ?? 0) : 0 } : {}, this.o.settings.thresholds, at);
    this.systemHeld = sys.held;
    for (const e of sys.events) this.onAlertEvent(e);
    this.cleared = this.cleared.filter((e) => now - e.at.getTime() < CLEARED_VISIBLE_MS);

    this.trend.push({ t: now, memory: figures.memoryUsed, queued: complete && scans ? scans.queued : null });
    while (this.trend.length > 0 && now - this.trend[0]!.t > TREND_WINDOW_MS) this.trend.shift();

    const state: OwnState = { takenAt: now, complete, host, figures, scans, activeUsers, forecasts: this.forecasts(now) };
    this.latest = state;
    if (complete) this.lastComplete = state;
    this.version++;
    this.m?.observe({ level: this.localLevel(), ...figures, activeUsers, scans });
    this.m?.sampleDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.noteHold();

    await this.o.pubsub.publish(topics.capacity(), this.view(state)).catch((err: unknown) => {
      this.o.log.warn({ err }, "capacity: publish failed");
    });
    if (complete) this.maybePrune();
    return state;
  }

  /**
   * This interval's host figures, with CPU and event-loop delay as their mean over the load
   * window (capacity.window.ts): a burst the server absorbs does not flip the level.
   */
  private judgedFigures(host: HostFigures, now: number): InstanceFigures {
    const pool = poolStats(this.o.pool);
    const conn = this.o.connections?.() ?? { clients: 0, subscriptions: 0 };
    if (pool.waiting > 0) this.poolWaitingSince ??= now;
    else this.poolWaitingSince = null;
    this.cpuWindow.push({ at: now, spanMs: host.cpuSpanMs, value: host.cpu });
    this.loopWindow.push({ at: now, spanMs: host.loopSpanMs, value: host.eventLoopDelayMs });
    trimWindow(this.cpuWindow, now, LOAD_WINDOW_MS);
    trimWindow(this.loopWindow, now, LOAD_WINDOW_MS);
    return {
      cpu: windowMean(this.cpuWindow, now, LOAD_WINDOW_MS),
      processCpu: host.processCpu,
      memoryUsed: host.memoryUsed,
      rssBytes: host.rssBytes,
      eventLoopDelayMs: windowMean(this.loopWindow, now, LOAD_WINDOW_MS),
      pool,
      clients: conn.clients,
      subscriptions: conn.subscriptions,
    };
  }

  /**
   * Scan figures, heartbeat + sample (with this instance's level), and the live peers' stored
   * levels: bounded, so a saturated pool or a dead database delays nothing but itself.
   */
  private async databasePart(figures: InstanceFigures, now: number): Promise<{ complete: boolean; scans: ScanFigures | null; activeUsers: number | null }> {
    const level = overallLevel(this.held.values(), this.o.settings.forceLevel);
    const critical = criticalMetrics(this.held.values(), this.o.settings.forceLevel);
    try {
      const run = async () => {
        const scans = await this.repo.scanFigures();
        const activeUsers = await this.o.activity.activeUsers();
        const { pool } = figures;
        await this.repo.record(this.identity, {
          ...figures,
          poolSize: pool.size,
          poolInUse: pool.inUse,
          poolIdle: pool.idle,
          poolWaiting: pool.waiting,
          wsClients: figures.clients,
          runningScans: scans.running,
          queuedScans: scans.queued,
          activeUsers,
          level,
          criticalMetrics: critical,
        });
        const live = await this.repo.liveInstances(this.liveMs);
        this.storedPeers = {
          at: Date.now(),
          levels: live
            .filter((r) => r.id !== this.identity.id && r.sample)
            .map((r) => ({ id: r.id, hostname: r.hostname, level: r.sample!.level ?? "OK", critical: r.sample!.criticalMetrics, at: r.sample!.at.getTime() })),
        };
        return { scans, activeUsers };
      };
      const { scans, activeUsers } = await withTimeout(run(), Math.max(1_000, Math.min(this.o.settings.intervalMs * 2, 10_000)), "capacity sample");
      return { complete: true, scans, activeUsers };
    } catch (err) {
      this.m?.sampleFailures.inc({ part: "database" });
      if (now - this.lastDbWarning > 60_000) {
        this.lastDbWarning = now;
        this.o.log.warn({ err }, "capacity sample: database part failed; figures kept in memory only");
      }
      // The last known system figures stay in the report, but the sample does not count as fresh.
      return { complete: false, scans: this.lastComplete?.scans ?? null, activeUsers: this.lastComplete?.activeUsers ?? null };
    }
  }

  private maybePrune(): void {
    if (++this.samplesSincePrune < Math.max(12, Math.round(600_000 / this.o.settings.intervalMs))) return;
    this.samplesSincePrune = 0;
    void this.repo.prune(this.o.settings.retentionMs).then(
      (n) => n > 0 && this.o.log.info({ deleted: n }, "capacity samples pruned"),
      (err: unknown) => this.o.log.warn({ err }, "capacity prune failed"),
    );
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

  /** Logs and tells the listeners when new scans start or stop waiting for capacity. */
  private noteHold(): void {
    const hold = this.claimHold();
    if (hold === this.lastHold) return;
    if (hold) this.o.log.warn({ hold }, `new scans wait in the queue: ${hold}`);
    else this.o.log.info("capacity returned: queued scans start again");
    this.lastHold = hold;
    for (const listener of this.holdListeners) listener(hold);
  }

  /** Calls `listener` when new scans start or stop waiting for capacity (judged at each sample). Returns the unsubscribe. */
  onHoldChange(listener: (hold: string | null) => void): () => void {
    this.holdListeners.add(listener);
    return () => this.holdListeners.delete(listener);
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
    const forced = this.o.settings.forceLevel ?? null;
    return {
      v: 1,
      instanceId: this.identity.id,
      kind: this.identity.kind,
      hostname: this.identity.hostname,
      pid: this.identity.pid,
      startedAt: this.identity.startedAt.toISOString(),
      at: new Date(s.takenAt).toISOString(),
      level: overallLevel(this.held.values(), forced ?? undefined),
      forcedLevel: forced,
      critical: criticalMetrics(this.held.values(), forced),
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

  private freshViews(now: number): InstanceView[] {
    return [...this.peers.values()].filter((p) => now - p.receivedAt <= this.liveMs).map((p) => p.view);
  }

  /** This instance and every live peer, each by its newest judgement (published view or stored sample). */
  private instanceLevels(now: number): InstanceLevel[] {
    const forced = this.o.settings.forceLevel;
    const self: InstanceLevel = {
      id: this.identity.id,
      hostname: this.identity.hostname,
      level: overallLevel(this.held.values(), forced),
      critical: criticalMetrics(this.held.values(), forced),
      at: now,
    };
    const fromViews = this.freshViews(now).map<InstanceLevel>((v) => ({
      id: v.instanceId,
      hostname: v.hostname,
      level: v.level,
      critical: v.critical ?? v.alerts.filter((a) => a.level === "CRITICAL").map((a) => a.metric),
      at: Date.parse(v.at),
    }));
    const stored = now - this.storedPeers.at <= this.liveMs ? this.storedPeers.levels : [];
    return [self, ...newestPerInstance([...fromViews, ...stored])];
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
    const report = this.gatherReport();
    this.cached = { version: this.version, at: now, report };
    report.catch(() => {
      if (this.cached?.report === report) this.cached = null;
    });
    return report;
  }

  private async gatherReport(): Promise<CapacityReportData> {
    const state = this.latest ?? (await this.sampleNow());
    let rows = null;
    try {
      rows = await withTimeout(this.repo.liveInstances(this.liveMs), 5_000, "capacity report");
    } catch (err) {
      this.o.log.warn({ err }, "capacity report: database did not answer; reporting from memory");
    }
    return buildReport({
      settings: this.o.settings,
      self: this.view(state),
      state,
      rows,
      peers: this.freshViews(Date.now()),
      system: { held: [...this.systemHeld.values()], cleared: this.cleared.filter((e) => !INSTANCE_METRICS.includes(e.metric)) },
      capacityHold: this.claimHold(),
    });
  }

  /** Chart points over the last `minutes` (1..10080), at most ~120. */
  history(minutes: number): Promise<HistoryPoint[]> {
    return this.repo.history(minutes, Math.ceil(this.o.settings.intervalMs / 1000));
  }

  /**
   * The scan admission's question, answered from the latest sample (re-sampled only when it is
   * older than 3 intervals): admit; admit to wait for capacity while a live instance is CRITICAL;
   * refuse only at critical memory here, or when the monitor cannot tell (a monitor that fails
   * must not let everything through).
   */
  async admissionVerdict(): Promise<AdmissionVerdict> {
    const retryAfterSeconds = Math.max(30, Math.ceil((6 * this.o.settings.intervalMs) / 1000));
    const base = { hostname: this.identity.hostname, retryAfterSeconds };
    try {
      let s = this.lastComplete;
      if (!s || Date.now() - s.takenAt > this.liveMs) {
        const fresh = await withTimeout(this.sampleNow(), 5_000, "capacity resample");
        s = fresh.complete ? fresh : null;
      }
      const memory = this.o.settings.forceLevel ? undefined : this.held.get("memory");
      return decideAdmission({
        ...base,
        known: s !== null,
        memory: memory?.level === "CRITICAL" ? { value: memory.value, threshold: memory.threshold } : null,
        instances: this.instanceLevels(Date.now()),
      });
    } catch {
      return decideAdmission({ ...base, known: false, memory: null, instances: [] });
    }
  }

  /** Why workers must not claim new scans now (a live instance is CRITICAL), or null. From memory. */
  claimHold(): string | null {
    return holdReason(this.instanceLevels(Date.now()));
  }
}

function instanceValues(f: InstanceFigures): MetricValues {
  return {
    memory: f.memoryUsed,
    cpu: f.cpu,
    pool: f.pool.size > 0 ? f.pool.inUse / f.pool.size : 0,
    eventLoopDelay: f.eventLoopDelayMs,
  };
}

function forecastView(metric: "memory" | "queuedScans", instanceId: string | null, f: Forecast): ForecastView {
  return { metric, instanceId, current: f.current, limit: f.limit, slopePerMinute: f.slopePerMinute, secondsUntilLimit: f.secondsUntilLimit };
}
