import { describe, expect, it } from "vitest";
import { criticalMetrics, decideAdmission, holdReason, newestPerInstance, OVERRIDE, type AdmissionInput, type InstanceLevel } from "../../../src/modules/capacity/capacity.admission.js";
import { monitorUnavailableReason } from "../../../src/modules/scans/capacity.port.js";

const inst = (hostname: string, level: InstanceLevel["level"], critical: string[] = [], at = 0): InstanceLevel => ({ id: `${hostname}-1`, hostname, level, critical, at });
const base: AdmissionInput = { known: true, memory: null, hostname: "api-a", instances: [inst("api-a", "OK")], retryAfterSeconds: 30 };

describe("decideAdmission: protect without punishing", () => {
  it.each<[string, Partial<AdmissionInput>, unknown]>([
    ["all calm: admitted", {}, { allowed: true }],
    ["WARNING somewhere: admitted", { instances: [inst("api-a", "WARNING"), inst("worker-b", "WARNING")] }, { allowed: true }],
    [
      "CPU CRITICAL here: admitted to wait for capacity",
      { instances: [inst("api-a", "CRITICAL", ["cpu"])] },
      { allowed: true, waitsFor: "CAPACITY", reason: "capacity is CRITICAL on api-a (machine CPU)" },
    ],
    [
      "event-loop delay and pool CRITICAL on a peer: waits too, naming the peer",
      { instances: [inst("api-a", "OK"), inst("worker-b", "CRITICAL", ["eventLoopDelay", "pool"])] },
      { allowed: true, waitsFor: "CAPACITY", reason: "capacity is CRITICAL on worker-b (event-loop delay p99, database pool in use)" },
    ],
    [
      "a peer forced to CRITICAL: waits",
      { instances: [inst("api-a", "OK"), inst("api-b", "CRITICAL", [OVERRIDE])] },
      { allowed: true, waitsFor: "CAPACITY", reason: "capacity is CRITICAL on api-b (level forced by CAPACITY_FORCE_LEVEL)" },
    ],
    [
      "a peer's memory CRITICAL: waits (only memory here refuses)",
      { instances: [inst("api-a", "OK"), inst("worker-b", "CRITICAL", ["memory"])] },
      { allowed: true, waitsFor: "CAPACITY", reason: "capacity is CRITICAL on worker-b (memory in use)" },
    ],
    ["queue wait CRITICAL does not hold (it grows while scans are held)", { instances: [inst("api-a", "CRITICAL", ["queueWait"])] }, { allowed: true }],
    [
      "memory CRITICAL here: refused with one sentence",
      { memory: { value: 0.971, threshold: 0.95 }, instances: [inst("api-a", "CRITICAL", ["memory"])] },
      { allowed: false, retryAfterSeconds: 30, reason: "Memory on api-a is at 97.1% (critical from 95%), so new scans are refused; retry in 30 s." },
    ],
    ["the monitor cannot tell: refused", { known: false, instances: [] }, { allowed: false, retryAfterSeconds: 30, reason: monitorUnavailableReason(30) }],
  ])("%s", (_name, over, expected) => {
    expect(decideAdmission({ ...base, ...over })).toEqual(expected);
  });

  it("a refusal is one sentence that does not repeat itself", () => {
    for (const verdict of [decideAdmission({ ...base, memory: { value: 0.99, threshold: 0.95 } }), decideAdmission({ ...base, known: false })]) {
      expect(verdict.allowed).toBe(false);
      const reason = (verdict as { reason: string }).reason;
      expect(reason.split(/\.\s/)).toHaveLength(1); // no full stop inside
      expect(reason).toMatch(/^[A-Z].*\.$/);
      const words = reason.toLowerCase().match(/[a-z]{5,}/g)!;
      expect(new Set(words).size, reason).toBe(words.length);
    }
  });
});

describe("criticalMetrics: what an instance stores for its peers", () => {
  const held = [
    { metric: "cpu", level: "CRITICAL" as const },
    { metric: "pool", level: "WARNING" as const },
    { metric: "memory", level: "CRITICAL" as const },
  ];
  it.each<[string, Parameters<typeof criticalMetrics>[1], string[]]>([
    ["its own CRITICAL metrics", undefined, ["cpu", "memory"]],
    ["forced CRITICAL: the override alone", "CRITICAL", [OVERRIDE]],
    ["forced OK: nothing, whatever its figures say", "OK", []],
    ["forced WARNING: nothing", "WARNING", []],
  ])("%s", (_name, forced, expected) => {
    expect(criticalMetrics(held, forced)).toEqual(expected);
  });
});

describe("holdReason and newestPerInstance", () => {
  it("null when no instance is CRITICAL on a holding metric", () => {
    expect(holdReason([inst("a", "OK"), inst("b", "WARNING", []), inst("c", "CRITICAL", ["queueWait"])])).toBeNull();
  });

  it("keeps the newest judgement per instance: a peer that recovered no longer holds", () => {
    const stale = { ...inst("b", "CRITICAL", ["cpu"]), at: 1_000 };
    const fresh = { ...inst("b", "OK", []), at: 2_000 };
    expect(newestPerInstance([stale, fresh])).toEqual([fresh]);
    expect(newestPerInstance([fresh, stale])).toEqual([fresh]);
    expect(holdReason(newestPerInstance([fresh, stale]))).toBeNull();
    expect(newestPerInstance([inst("a", "OK"), inst("b", "OK")]).map((l) => l.hostname)).toEqual(["a", "b"]);
  });
});
