import { describe, expect, it } from "vitest";
import { LOAD_WINDOW_MS, trimWindow, windowMean, type WindowPoint } from "../../../src/modules/capacity/capacity.window.js";

const NOW = 1_000_000;
/** Readings every 5 s over the last `seconds`, the newest ending now. */
const every5s = (seconds: number, value: (i: number) => number): WindowPoint[] =>
  Array.from({ length: seconds / 5 }, (_, i) => ({ at: NOW - seconds * 1000 + (i + 1) * 5_000, spanMs: 5_000, value: value(i) }));

describe("windowMean: load judged over the last minute", () => {
  it.each<[string, WindowPoint[], number]>([
    ["no readings: calm", [], 0],
    ["a full calm minute", every5s(60, () => 0.2), 0.2],
    ["a full busy minute", every5s(60, () => 1), 1],
    ["a 10 s burst at 100% over a calm 20% minute", every5s(60, (i) => (i >= 10 ? 1 : 0.2)), 0.2 + (0.8 * 10) / 60],
    ["a fresh instance: 10 s at 100% (the rest of the window counts as 0)", every5s(10, () => 1), 10 / 60],
    ["readings older than the window do not count", every5s(120, (i) => (i < 12 ? 1 : 0.3)), 0.3],
    ["a reading straddling the window's start counts for its share", [{ at: NOW - 50_000, spanMs: 20_000, value: 0.6 }], (0.6 * 10) / 60],
    ["a reading with no span (CPU window too short) counts for nothing", [{ at: NOW, spanMs: 0, value: 1 }], 0],
    ["a non-finite reading counts for nothing", [{ at: NOW, spanMs: 5_000, value: Number.NaN }], 0],
  ])("%s", (_name, points, expected) => {
    expect(windowMean(points, NOW, LOAD_WINDOW_MS)).toBeCloseTo(expected, 10);
  });

  it("an event-loop stall of 1.5 s in one 5 s interval stays under the 200 ms warning; a minute of 1.2 s p99 reaches the 1 s critical", () => {
    const stall = every5s(60, (i) => (i === 11 ? 1_500 : 5));
    expect(windowMean(stall, NOW, LOAD_WINDOW_MS)).toBeLessThan(200);
    expect(windowMean(every5s(60, () => 1_200), NOW, LOAD_WINDOW_MS)).toBeGreaterThanOrEqual(1_000);
  });

  it("a window of 0 is the newest reading", () => {
    expect(windowMean(every5s(20, (i) => i), NOW, 0)).toBe(3);
  });
});

describe("trimWindow", () => {
  it("drops readings that end before the window and keeps the rest in order", () => {
    const points = every5s(120, (i) => i);
    trimWindow(points, NOW, LOAD_WINDOW_MS);
    expect(points.map((p) => p.value)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
    trimWindow(points, NOW + 61_000, LOAD_WINDOW_MS);
    expect(points).toEqual([]);
  });
});
