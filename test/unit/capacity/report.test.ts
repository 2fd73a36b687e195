import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS } from "../../../src/modules/capacity/capacity.levels.js";
import { buildReport, type InstanceFigures, type InstanceView, type ReportInput } from "../../../src/modules/capacity/capacity.report.js";
import type { LiveInstanceRow, ScanFigures } from "../../../src/modules/capacity/capacity.repo.js";

const AT = new Date("2026-12-01T10:00:00Z");
const iso = (msAgo = 0) => new Date(AT.getTime() - msAgo).toISOString();

const figures = (over: Partial<InstanceFigures> = {}): InstanceFigures => ({
  cpu: 0.2,
  processCpu: 0.05,
  memoryUsed: 0.4,
  rssBytes: 100e6,
  eventLoopDelayMs: 12,
  pool: { size: 10, inUse: 1, idle: 2, waiting: 0 },
  clients: 3,
  subscriptions: 4,
  ...over,
});

const view = (id: string, over: Partial<InstanceView> = {}): InstanceView => ({
  v: 1,
  instanceId: id,
  kind: "api",
  hostname: `host-${id}`,
  pid: 100,
  startedAt: iso(3_600_000),
  at: iso(),
  level: "OK",
  forcedLevel: null,
  critical: [],
  figures: figures(),
  poolWaitingSeconds: 0,
  alerts: [],
  cleared: [],
  forecasts: [],
  ...over,
});

const row = (id: string, sample: Partial<NonNullable<LiveInstanceRow["sample"]>> | null, msAgo = 0): LiveInstanceRow => ({
  id,
  kind: "worker",
  hostname: `host-${id}`,
  pid: 200,
  startedAt: new Date(AT.getTime() - 3_600_000),
  heartbeatAt: new Date(AT.getTime() - msAgo),
  sample:
    sample === null
      ? null
      : {
          at: new Date(AT.getTime() - msAgo),
          cpu: 0.3,
          processCpu: 0.1,
          memoryUsed: 0.5,
          rssBytes: 50e6,
          eventLoopDelayMs: 5,
          poolSize: 10,
          poolInUse: 2,
          poolIdle: 3,
          poolWaiting: 0,
          wsClients: 1,
          subscriptions: 1,
          runningScans: 0,
          queuedScans: 0,
          activeUsers: 0,
          level: null,
          criticalMetrics: [],
          ...sample,
        },
});

const scans = (over: Partial<ScanFigures> = {}): ScanFigures => ({
  running: 1,
  queued: 0,
  waitCount: 0,
  waitP50Seconds: null,
  waitP95Seconds: null,
  durations: [],
  runningScans: [],
  ...over,
});

const input = (over: Partial<ReportInput> = {}): ReportInput => ({
  settings: { thresholds: DEFAULT_THRESHOLDS, maxConcurrent: 8, maxPerUser: 3, maxQueued: 200 },
  self: view("self"),
  state: { takenAt: AT.getTime(), complete: true, scans: scans(), activeUsers: 2 },
  rows: [row("self", {})],
  peers: [],
  system: { held: [], cleared: [] },
  capacityHold: null,
  ...over,
});

describe("buildReport", () => {
  it("one calm instance: OK, its own figures, nothing to recommend", () => {
    const r = buildReport(input());
    expect(r).toMatchObject({
      at: AT,
      level: "OK",
      forcedLevel: null,
      activeUsers: 2,
      connectedClients: 3,
      subscriptions: 4,
      cpu: 0.2,
      memoryUsed: 0.4,
      scans: { running: 1, queued: 0, maxConcurrent: 8, maxPerUser: 3, maxQueued: 200, capacityHold: null },
      database: { size: 10, inUse: 1, idle: 2, waiting: 0 },
      recommendations: [],
      alerts: [],
      fromDatabase: true,
    });
    expect(r.instances).toHaveLength(1);
    expect(r.instances[0]).toMatchObject({ id: "self", kind: "worker", level: "OK", sampledAt: AT });
  });

  it.each<[string, Partial<ReportInput>, { level: string; instances: string[]; alerts: string[]; recommendations?: string[] }]>([
    [
      "PostgreSQL does not answer: this instance from memory, the monitor recommendation first",
      { rows: null, state: { takenAt: AT.getTime(), complete: false, scans: null, activeUsers: null } },
      { level: "OK", instances: ["self"], alerts: [], recommendations: ["HIGH monitor"] },
    ],
    [
      "a peer's fresh view: its level and alerts, named by host",
      {
        rows: [row("self", {}), row("p", {}, 4_000)],
        peers: [
          view("p", {
            level: "CRITICAL",
            critical: ["cpu"],
            figures: figures({ cpu: 0.95 }),
            alerts: [{ metric: "cpu", level: "CRITICAL", value: 0.95, threshold: 0.9, since: iso(10_000), message: "machine CPU 95% is at or over the critical threshold of 90%" }],
          }),
        ],
      },
      { level: "CRITICAL", instances: ["self OK", "p CRITICAL"], alerts: ["CRITICAL cpu p active (host-p)"], recommendations: ["HIGH cpu"] },
    ],
    [
      "a peer without a view (no shared pub/sub): its stored level, its figures judged, its override",
      { rows: [row("self", {}), row("p", { memoryUsed: 0.9, level: "CRITICAL", criticalMetrics: ["override"] })] },
      { level: "CRITICAL", instances: ["self OK", "p CRITICAL"], alerts: ["CRITICAL override p active (host-p)", "WARNING memory p active (host-p)"], recommendations: ["HIGH memory"] },
    ],
    [
      "a peer's older row without a stored level: judged from its figures",
      { rows: [row("self", {}), row("p", { eventLoopDelayMs: 1_500 })] },
      { level: "CRITICAL", instances: ["self OK", "p CRITICAL"], alerts: ["CRITICAL eventLoopDelay p active (host-p)"], recommendations: ["HIGH eventLoopDelay"] },
    ],
    [
      "this instance forced OK, a peer CRITICAL: the report says CRITICAL",
      {
        settings: { thresholds: DEFAULT_THRESHOLDS, maxConcurrent: 8, maxPerUser: 3, maxQueued: 200, forceLevel: "OK" },
        rows: [row("self", {}), row("p", { level: "CRITICAL", criticalMetrics: ["override"] })],
      },
      { level: "CRITICAL", instances: ["self OK", "p CRITICAL"], alerts: ["CRITICAL override p active (host-p)", "OK override self active"] },
    ],
    [
      "forced CRITICAL here: the override alert, the forced level",
      { settings: { thresholds: DEFAULT_THRESHOLDS, maxConcurrent: 8, maxPerUser: 3, maxQueued: 200, forceLevel: "CRITICAL" }, self: view("self", { level: "CRITICAL", forcedLevel: "CRITICAL", critical: ["override"] }) },
      { level: "CRITICAL", instances: ["self CRITICAL"], alerts: ["CRITICAL override self active"] },
    ],
    [
      "system-wide queue wait held, a cleared alert after the active ones",
      {
        state: { takenAt: AT.getTime(), complete: true, scans: scans({ queued: 4, waitP95Seconds: 90 }), activeUsers: 1 },
        system: {
          held: [{ metric: "queueWait", level: "WARNING", value: 90, threshold: 60, since: new Date(AT.getTime() - 5_000) }],
          cleared: [{ kind: "cleared", metric: "queueWait", level: "OK", previous: "CRITICAL", value: 10, threshold: 300, at: new Date(AT.getTime() - 1_000), message: "x" }],
        },
      },
      { level: "WARNING", instances: ["self OK"], alerts: ["WARNING queueWait system active", "CRITICAL queueWait system cleared"], recommendations: ["HIGH queueWait"] },
    ],
    [
      "an instance registered but never sampled is left out",
      { rows: [row("self", {}), row("new", null)] },
      { level: "OK", instances: ["self OK"], alerts: [] },
    ],
  ])("%s", (_name, over, expected) => {
    const r = buildReport(input(over));
    expect(r.level).toBe(expected.level);
    expect(r.instances.map((i) => (expected.instances[0]!.includes(" ") ? `${i.id} ${i.level}` : i.id))).toEqual(expected.instances);
    expect(r.alerts.map((a) => `${a.level} ${a.metric} ${a.instanceId ?? "system"} ${a.clearedAt ? "cleared" : "active"}${a.message.match(/ \(host-\w+\)$/)?.[0] ?? ""}`)).toEqual(expected.alerts);
    if (expected.recommendations) expect(r.recommendations.map((x) => `${x.severity} ${x.metric}`)).toEqual(expected.recommendations);
    expect(r.fromDatabase).toBe(over.rows !== null);
  });

  it("sums pools and clients across instances, takes the hottest CPU and the fullest memory", () => {
    const r = buildReport(input({ rows: [row("self", {}), row("p", { cpu: 0.7, memoryUsed: 0.3, poolSize: 20, poolInUse: 5, wsClients: 7 })] }));
    expect(r).toMatchObject({ cpu: 0.7, memoryUsed: 0.4, connectedClients: 10, database: { size: 30, inUse: 6 } });
  });

  it("a queue-wait recommendation only while scans wait: the hour's p95 outlives an emptied queue", () => {
    const stale = buildReport(input({ state: { takenAt: AT.getTime(), complete: true, scans: scans({ queued: 0, waitP95Seconds: 400 }), activeUsers: 0 } }));
    expect(stale.recommendations.filter((x) => x.metric === "queueWait")).toEqual([]);
    const waiting = buildReport(input({ state: { takenAt: AT.getTime(), complete: true, scans: scans({ queued: 3, waitP95Seconds: 400 }), activeUsers: 0 } }));
    expect(waiting.recommendations.find((x) => x.metric === "queueWait")).toMatchObject({ severity: "CRITICAL", message: expect.stringMatching(/^queue wait p95 over 60 s \(now 400 s, 3 queued/) });
  });

  it("while capacity holds new scans, the report says why and the queue advice names it", () => {
    const hold = "capacity is CRITICAL on host-p (machine CPU)";
    const r = buildReport(input({ capacityHold: hold, state: { takenAt: AT.getTime(), complete: true, scans: scans({ queued: 2, waitP95Seconds: 400 }), activeUsers: 0 } }));
    expect(r.scans.capacityHold).toBe(hold);
    expect(r.recommendations.filter((x) => x.metric === "queueWait")).toEqual([
      { severity: "HIGH", metric: "queueWait", message: `2 scan(s) wait in the queue because ${hold}: they start when it clears; relieve that instance or add one` },
    ]);
  });
});
