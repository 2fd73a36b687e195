import { describe, expect, it } from "vitest";
import {
  DEFAULT_THRESHOLDS,
  clearPoint,
  evaluateAlerts,
  levelWithHysteresis,
  overallLevel,
  rawLevel,
  type AlertState,
  type Level,
  type MetricName,
} from "../../../src/modules/capacity/capacity.levels.js";

const T = DEFAULT_THRESHOLDS;

describe("thresholds: the original's numbers as defaults", () => {
  it.each<[MetricName, number, Level]>([
    ["memory", 0.5, "OK"],
    ["memory", 0.849, "OK"],
    ["memory", 0.85, "WARNING"],
    ["memory", 0.949, "WARNING"],
    ["memory", 0.95, "CRITICAL"],
    ["cpu", 0.74, "OK"],
    ["cpu", 0.75, "WARNING"],
    ["cpu", 0.9, "CRITICAL"],
    ["pool", 0.79, "OK"],
    ["pool", 0.8, "WARNING"],
    ["pool", 0.96, "CRITICAL"],
    ["queueWait", 59, "OK"],
    ["queueWait", 60, "WARNING"],
    ["queueWait", 300, "CRITICAL"],
    ["eventLoopDelay", 150, "OK"],
    ["eventLoopDelay", 200, "WARNING"],
    ["eventLoopDelay", 1500, "CRITICAL"],
  ])("%s at %d is %s", (metric, value, level) => {
    expect(rawLevel(value, T[metric])).toBe(level);
  });

  it("thresholds of 0 force CRITICAL for any value", () => {
    expect(rawLevel(0, { warning: 0, critical: 0, clearAbsolute: 0.05, clearRelative: 0 })).toBe("CRITICAL");
  });

  it.each<[MetricName, number, number]>([
    ["memory", 0.85, 0.8], // 5 percentage points
    ["cpu", 0.9, 0.85],
    ["queueWait", 60, 54], // 10 %
    ["eventLoopDelay", 1000, 900],
  ])("%s at %d clears below %d", (metric, threshold, clear) => {
    expect(clearPoint(threshold, T[metric])).toBeCloseTo(clear, 10);
  });
});

describe("hysteresis", () => {
  it.each<[string, number, Level, Level]>([
    // value, previous, expected
    ["rises at once", 0.86, "OK", "WARNING"],
    ["rises two levels at once", 0.97, "OK", "CRITICAL"],
    ["holds WARNING just under the line", 0.84, "WARNING", "WARNING"],
    ["holds WARNING at the clear point + ε", 0.8001, "WARNING", "WARNING"],
    ["clears WARNING below the clear point", 0.799, "WARNING", "OK"],
    ["holds CRITICAL just under the line", 0.93, "CRITICAL", "CRITICAL"],
    ["lowers CRITICAL to WARNING", 0.89, "CRITICAL", "WARNING"],
    ["lowers CRITICAL straight to OK", 0.5, "CRITICAL", "OK"],
    ["stays OK under the line", 0.84, "OK", "OK"],
    ["keeps the level of an unreadable value", Number.NaN, "CRITICAL", "CRITICAL"],
  ])("memory: %s", (_name, value, previous, expected) => {
    expect(levelWithHysteresis(value, previous, T.memory)).toBe(expected);
  });

  it("a value wobbling on the line does not flap", () => {
    let level: Level = "OK";
    const seen: Level[] = [];
    for (const v of [0.849, 0.851, 0.849, 0.852, 0.848, 0.851, 0.83, 0.851]) {
      level = levelWithHysteresis(v, level, T.memory);
      seen.push(level);
    }
    expect(seen).toEqual(["OK", "WARNING", "WARNING", "WARNING", "WARNING", "WARNING", "WARNING", "WARNING"]);
  });
});

describe("alert transitions", () => {
  const at = new Date("2026-01-01T00:00:00Z");
  const later = new Date("2026-01-01T00:00:05Z");

  it("raises, holds (keeping since), escalates, lowers and clears", () => {
    let held = new Map<MetricName, AlertState>();
    const step = (values: Partial<Record<MetricName, number>>, when: Date) => {
      const r = evaluateAlerts(held, values, T, when);
      held = r.held;
      return r.events.map((e) => `${e.metric}:${e.kind}:${e.previous}->${e.level}`);
    };
    expect(step({ memory: 0.86, cpu: 0.1 }, at)).toEqual(["memory:raised:OK->WARNING"]);
    expect(held.get("memory")).toMatchObject({ level: "WARNING", threshold: 0.85, since: at });
    expect(step({ memory: 0.84 }, later)).toEqual([]);
    expect(held.get("memory")!.since).toEqual(at);
    expect(step({ memory: 0.96 }, later)).toEqual(["memory:escalated:WARNING->CRITICAL"]);
    expect(step({ memory: 0.88 }, later)).toEqual(["memory:lowered:CRITICAL->WARNING"]);
    expect(step({}, later)).toEqual([]); // a figure not read keeps its state
    expect(held.has("memory")).toBe(true);
    expect(step({ memory: 0.7 }, later)).toEqual(["memory:cleared:WARNING->OK"]);
    expect(held.size).toBe(0);
  });

  it("names the figure and the threshold in messages", () => {
    const { events } = evaluateAlerts(new Map(), { queueWait: 75, pool: 0.97 }, T, at);
    expect(events.map((e) => e.message)).toEqual([
      "database pool in use 97% is at or over the critical threshold of 95%",
      "scan queue wait p95 75 s is at or over the warning threshold of 60 s",
    ]);
  });

  it.each<[Level[], Level | undefined, Level]>([
    [[], undefined, "OK"],
    [["WARNING"], undefined, "WARNING"],
    [["WARNING", "CRITICAL"], undefined, "CRITICAL"],
    [["CRITICAL"], "OK", "OK"],
    [[], "CRITICAL", "CRITICAL"],
  ])("overall level of %j forced %s is %s", (levels, forced, expected) => {
    expect(overallLevel(levels.map((level) => ({ level })), forced)).toBe(expected);
  });
});
