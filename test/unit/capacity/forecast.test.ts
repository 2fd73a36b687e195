import { describe, expect, it } from "vitest";
import { forecastLimit, linearFit, type Point } from "../../../src/modules/capacity/capacity.forecast.js";

const T0 = Date.UTC(2026, 0, 1);
/** n points every `stepS` seconds from T0 following f(seconds). */
const series = (n: number, stepS: number, f: (s: number) => number): Point[] =>
  Array.from({ length: n }, (_, i) => ({ t: T0 + i * stepS * 1000, value: f(i * stepS) }));

describe("linearFit", () => {
  it.each<[string, Point[], number | null, number]>([
    ["a rising line", series(10, 60, (s) => 2 + 0.5 * s), 0.5, 1],
    ["a flat line", series(10, 60, () => 3), 0, 1],
    ["a falling line", series(5, 10, (s) => 100 - s), -1, 1],
    ["one point", series(1, 10, () => 1), null, 0],
  ])("%s", (_name, points, slope, r2) => {
    const fit = linearFit(points);
    if (slope === null) return expect(fit).toBeNull();
    expect(fit!.slopePerSecond).toBeCloseTo(slope, 9);
    expect(fit!.r2).toBeCloseTo(r2, 9);
  });

  it("has no slope when every point has the same time", () => {
    expect(linearFit([{ t: T0, value: 1 }, { t: T0, value: 2 }])).toBeNull();
  });
});

describe("forecastLimit", () => {
  // memory from 50% rising 1 point per minute, sampled every 5 s for 30 min
  const memory = series(360, 5, (s) => 0.5 + (0.01 * s) / 60);
  const end = memory[memory.length - 1]!.t;

  it.each<[string, Point[], number, number, number | null]>([
    ["rising memory reaches 95% in ~15.1 min", memory, 0.95, end, (0.95 - (0.5 + 0.01 * (1795 / 60))) / (0.01 / 60)],
    ["already over the limit: 0", memory, 0.6, end, 0],
    ["falling: never", series(60, 30, (s) => 100 - s / 60), 200, T0 + 59 * 30_000, null],
    ["flat: never", series(60, 30, () => 10), 200, T0 + 59 * 30_000, null],
    ["queue +2 scans/min reaches 200 from 20 in 90 min", series(31, 60, (s) => 20 + (2 * s) / 60), 200, T0 + 30 * 60_000, 60 * 60],
  ])("%s", (_name, points, limit, now, expected) => {
    const f = forecastLimit(points, limit, now);
    expect(f).not.toBeNull();
    if (expected === null) expect(f!.secondsUntilLimit).toBeNull();
    else expect(f!.secondsUntilLimit!).toBeCloseTo(expected, 3);
  });

  it.each<[string, Point[]]>([
    ["too few points", series(5, 60, (s) => s)],
    ["too short a span", series(20, 1, (s) => s)],
  ])("says nothing with %s", (_name, points) => {
    expect(forecastLimit(points, 1e9, points[points.length - 1]!.t)).toBeNull();
  });

  it("treats noise without a trend as no trend", () => {
    const noisy = series(40, 30, (s) => 10 + (Math.round(s / 30) % 2 === 0 ? 5 : -5) + s * 1e-6);
    expect(forecastLimit(noisy, 100, noisy[39]!.t)!.secondsUntilLimit).toBeNull();
  });
});
