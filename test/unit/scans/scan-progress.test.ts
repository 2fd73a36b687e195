import { describe, expect, it } from "vitest";
import { progressOf } from "../../../src/modules/scans/scan-progress.js";

describe("progressOf", () => {
  it.each([
    ["nothing known", { itemsProcessed: 0, itemsTotal: null }, 0],
    ["no items", { itemsProcessed: 0, itemsTotal: 0 }, 0],
    ["one large file, 28 of 31 chunks", { itemsProcessed: 0, itemsTotal: 1, itemFraction: 28 / 31 }, 28 / 31],
    ["two of five files done, half of the third", { itemsProcessed: 2, itemsTotal: 5, itemFraction: 0.5 }, 0.5],
    ["all files done: 99% until the scan succeeds", { itemsProcessed: 5, itemsTotal: 5 }, 0.99],
    ["a fraction past 1 counts as 1", { itemsProcessed: 1, itemsTotal: 4, itemFraction: 7 }, 0.5],
    ["a negative or NaN fraction counts as 0", { itemsProcessed: 1, itemsTotal: 4, itemFraction: Number.NaN }, 0.25],
    ["without a fraction: items only (database tables)", { itemsProcessed: 3, itemsTotal: 4 }, 0.75],
  ])("%s", (_what, update, expected) => {
    expect(progressOf(update)).toBeCloseTo(expected, 6);
  });
});
