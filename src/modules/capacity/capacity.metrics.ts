import { Counter, Gauge, Histogram } from "prom-client";
import type { Metrics } from "../../platform/observability/metrics.js";
import { levelRank, type Level } from "./capacity.levels.js";
import type { ScanFigures } from "./capacity.repo.js";

/**
 * The monitor's figures on /metrics. The registry carries the `instance` default label, so
 * per-instance figures are labelled by instance; system-wide ones (scans, users) are the same
 * on every instance: aggregate them with max(), not sum().
 */
export class CapacityMetrics {
  readonly level: Gauge;
  readonly cpuMachine: Gauge;
  readonly cpuProcess: Gauge;
  readonly memoryUsed: Gauge;
  readonly loopDelay: Gauge;
  readonly scansRunning: Gauge;
  readonly scansQueued: Gauge;
  readonly activeUsers: Gauge;
  readonly scanDuration: Gauge<"kind" | "quantile">;
  readonly queueWait: Gauge<"quantile">;
  readonly alerts: Counter<"metric" | "level">;
  readonly sampleDuration: Histogram;
  readonly sampleFailures: Counter<"part">;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.level = new Gauge({ name: "dg_capacity_level", help: "Capacity level: 0 OK, 1 WARNING, 2 CRITICAL", registers });
    this.cpuMachine = new Gauge({ name: "dg_cpu_machine_ratio", help: "Machine CPU busy between samples, 0..1", registers });
    this.cpuProcess = new Gauge({ name: "dg_cpu_process_ratio", help: "This process's CPU between samples, fraction of the machine", registers });
    this.memoryUsed = new Gauge({ name: "dg_memory_used_ratio", help: "Machine (or container) memory in use, 0..1", registers });
    this.loopDelay = new Gauge({ name: "dg_event_loop_delay_seconds", help: "Event-loop delay p99 between samples", registers });
    this.scansRunning = new Gauge({ name: "dg_scans_running", help: "RUNNING scans, system-wide", registers });
    this.scansQueued = new Gauge({ name: "dg_scans_queued", help: "QUEUED scans, system-wide", registers });
    this.activeUsers = new Gauge({ name: "dg_active_users", help: "Users active in the last 5 minutes, system-wide", registers });
    this.scanDuration = new Gauge({
      name: "dg_scan_duration_seconds",
      help: "Duration of scans that succeeded in the last hour, by kind and quantile (percentile_cont in PostgreSQL)",
      labelNames: ["kind", "quantile"],
      registers,
    });
    this.queueWait = new Gauge({
      name: "dg_scan_queue_wait_seconds",
      help: "Time scans waited in the queue (started in the last hour, or still queued), by quantile",
      labelNames: ["quantile"],
      registers,
    });
    this.alerts = new Counter({ name: "dg_capacity_alerts_total", help: "Capacity alerts raised or escalated, by metric and level", labelNames: ["metric", "level"], registers });
    this.sampleDuration = new Histogram({
      name: "dg_capacity_sample_duration_seconds",
      help: "Wall time of one capacity sample (host figures, scan query, heartbeat and insert)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.sampleFailures = new Counter({ name: "dg_capacity_sample_failures_total", help: "Capacity samples whose database part failed", labelNames: ["part"], registers });
  }

  observe(s: { level: Level; cpu: number; processCpu: number; memoryUsed: number; eventLoopDelayMs: number; activeUsers: number | null; scans: ScanFigures | null }): void {
    this.level.set(levelRank(s.level));
    this.cpuMachine.set(s.cpu);
    this.cpuProcess.set(s.processCpu);
    this.memoryUsed.set(s.memoryUsed);
    this.loopDelay.set(s.eventLoopDelayMs / 1000);
    if (s.activeUsers !== null) this.activeUsers.set(s.activeUsers);
    if (s.scans) {
      this.scansRunning.set(s.scans.running);
      this.scansQueued.set(s.scans.queued);
      this.scanDuration.reset();
      for (const d of s.scans.durations) {
        this.scanDuration.set({ kind: d.kind, quantile: "0.5" }, d.p50Seconds);
        this.scanDuration.set({ kind: d.kind, quantile: "0.95" }, d.p95Seconds);
      }
      this.queueWait.reset();
      if (s.scans.waitP50Seconds !== null) this.queueWait.set({ quantile: "0.5" }, s.scans.waitP50Seconds);
      if (s.scans.waitP95Seconds !== null) this.queueWait.set({ quantile: "0.95" }, s.scans.waitP95Seconds);
    }
  }
}
