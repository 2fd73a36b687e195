import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS } from "../../../src/modules/capacity/capacity.levels.js";
import { recommend, type RuleInput, type RuleInstance } from "../../../src/modules/capacity/capacity.rules.js";

const calm: RuleInstance = {
  id: "a-1",
  hostname: "host-a",
  cpu: 0.2,
  memoryUsed: 0.4,
  eventLoopDelayMs: 12,
  pool: { size: 50, inUse: 3, idle: 5, waiting: 0 },
  poolWaitingSeconds: 0,
};
const base: RuleInput = {
  instances: [calm],
  thresholds: DEFAULT_THRESHOLDS,
  queued: 0,
  running: 1,
  maxConcurrent: 8,
  maxQueued: 200,
  queueWaitP95Seconds: 2,
  durations: [],
  runningScans: [],
  forecasts: [],
};
const forecast = (secondsUntilLimit: number | null, limit = 0.95) => ({ current: 0.8, limit, slopePerMinute: 0.01, secondsUntilLimit, r2: 0.9 });

describe("recommendations", () => {
  it("recommends nothing when all is calm", () => {
    expect(recommend(base)).toEqual([]);
  });

  it.each<[string, Partial<RuleInput>, { severity: string; metric: string; message: RegExp } | null]>([
    [
      "pool waiting for 60 s",
      { instances: [{ ...calm, pool: { size: 2, inUse: 2, idle: 0, waiting: 3 }, poolWaitingSeconds: 61 }] },
      { severity: "HIGH", metric: "pool.waiting", message: /^pool waiting for 61 s on host-a \(a-1\): 3 caller\(s\) waiting, 2\/2 connections in use: raise DATABASE_POOL_SIZE or add an instance$/ },
    ],
    [
      "pool waiting briefly",
      { instances: [{ ...calm, pool: { size: 2, inUse: 2, idle: 0, waiting: 1 }, poolWaitingSeconds: 0 }] },
      { severity: "MEDIUM", metric: "pool.waiting", message: /pool waiting for 0 s .*raise DATABASE_POOL_SIZE/ },
    ],
    [
      "pool nearly full, nobody waiting",
      { instances: [{ ...calm, pool: { size: 50, inUse: 45, idle: 0, waiting: 0 } }] },
      { severity: "MEDIUM", metric: "pool.inUse", message: /database pool 90% in use .*45\/50/ },
    ],
    [
      "queue wait p95 over 60 s",
      { queueWaitP95Seconds: 75, queued: 12, running: 8 },
      { severity: "HIGH", metric: "queueWait", message: /^queue wait p95 over 60 s \(now 75 s, 12 queued, 8\/8 running\): add scan workers/ },
    ],
    ["queue wait p95 over 300 s", { queueWaitP95Seconds: 400, queued: 1 }, { severity: "CRITICAL", metric: "queueWait", message: /now 400 s/ }],
    ["queue wait under 60 s", { queueWaitP95Seconds: 59, queued: 1 }, null],
    ["queue wait p95 over 300 s in the hour, but the queue is empty now", { queueWaitP95Seconds: 400, queued: 0 }, null],
    [
      "scans held for capacity",
      { queueWaitP95Seconds: 400, queued: 5, capacityHold: "capacity is CRITICAL on host-a (machine CPU)" },
      { severity: "HIGH", metric: "queueWait", message: /^5 scan\(s\) wait in the queue because capacity is CRITICAL on host-a \(machine CPU\): they start when it clears/ },
    ],
    ["held for capacity with nothing queued", { queued: 0, capacityHold: "capacity is CRITICAL on host-a (machine CPU)" }, null],
    [
      "scan running 2x its kind's p95",
      { durations: [{ kind: "DOCUMENT", count: 10, p50Seconds: 20, p95Seconds: 40 }], runningScans: [{ id: "s1", kind: "DOCUMENT", runningSeconds: 100 }] },
      { severity: "MEDIUM", metric: "scanDuration", message: /^scan s1 \(DOCUMENT\) running 2\.5x longer than its kind's usual \(running 100 s, p95 40 s\): inspect it/ },
    ],
    [
      "scan running 1.9x its kind's p95",
      { durations: [{ kind: "DOCUMENT", count: 10, p50Seconds: 20, p95Seconds: 40 }], runningScans: [{ id: "s1", kind: "DOCUMENT", runningSeconds: 76 }] },
      null,
    ],
    [
      "scan of a kind with too few finished scans to judge",
      { durations: [{ kind: "CODE", count: 2, p50Seconds: 1, p95Seconds: 2 }], runningScans: [{ id: "s1", kind: "CODE", runningSeconds: 300 }] },
      null,
    ],
    [
      "short scan over its p95 (under 30 s)",
      { durations: [{ kind: "CODE", count: 9, p50Seconds: 1, p95Seconds: 2 }], runningScans: [{ id: "s1", kind: "CODE", runningSeconds: 20 }] },
      null,
    ],
    ["memory at 96%", { instances: [{ ...calm, memoryUsed: 0.96 }] }, { severity: "CRITICAL", metric: "memory", message: /memory 96% in use on host-a/ }],
    ["CPU at 80%", { instances: [{ ...calm, cpu: 0.8 }] }, { severity: "MEDIUM", metric: "cpu", message: /machine CPU 80% on host-a.*SCAN_WORKERS/ }],
    ["event loop at 1.2 s", { instances: [{ ...calm, eventLoopDelayMs: 1200 }] }, { severity: "HIGH", metric: "eventLoopDelay", message: /event-loop delay p99 1200 ms/ }],
    [
      "memory runs out in 10 min",
      { forecasts: [{ metric: "memory", instanceId: "a-1", hostname: "host-a", forecast: forecast(600) }] },
      { severity: "HIGH", metric: "forecast.memory", message: /^memory on host-a reaches 95% in about 10 min/ },
    ],
    [
      "memory runs out in 40 min",
      { forecasts: [{ metric: "memory", instanceId: "a-1", forecast: forecast(2400) }] },
      { severity: "MEDIUM", metric: "forecast.memory", message: /reaches 95% in about 40 min/ },
    ],
    ["memory runs out in 3 h: not yet worth saying", { forecasts: [{ metric: "memory", forecast: forecast(3 * 3600) }] }, null],
    ["memory not rising", { forecasts: [{ metric: "memory", forecast: forecast(null) }] }, null],
    [
      "scan queue full in 20 min",
      { forecasts: [{ metric: "queuedScans", forecast: { ...forecast(1200, 200), slopePerMinute: 4 } }] },
      { severity: "MEDIUM", metric: "forecast.queuedScans", message: /^scan queue reaches MAX_QUEUED_SCANS \(200\) in about 20 min .*\+4 scans\/min.*add scan workers/ },
    ],
  ])("%s", (_name, change, expected) => {
    const out = recommend({ ...base, ...change });
    if (expected === null) return expect(out).toEqual([]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ severity: expected.severity, metric: expected.metric });
    expect(out[0]!.message).toMatch(expected.message);
  });

  it("orders by severity, most severe first", () => {
    const out = recommend({
      ...base,
      queueWaitP95Seconds: 400,
      queued: 3,
      instances: [{ ...calm, cpu: 0.8, pool: { size: 2, inUse: 2, idle: 0, waiting: 1 } }],
    });
    expect(out.map((r) => r.severity)).toEqual(["CRITICAL", "MEDIUM", "MEDIUM"]);
  });

  it("caps overdue scans at five lines plus a summary", () => {
    const runningScans = Array.from({ length: 8 }, (_, i) => ({ id: `s${i}`, kind: "DOCUMENT", runningSeconds: 100 + i }));
    const out = recommend({ ...base, durations: [{ kind: "DOCUMENT", count: 5, p50Seconds: 10, p95Seconds: 20 }], runningScans });
    expect(out).toHaveLength(6);
    expect(out[0]!.message).toMatch(/^scan s7 /); // the most overdue first
    expect(out[5]!.message).toMatch(/^3 more scans/);
  });
});
