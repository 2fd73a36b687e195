import { describe, expect, it } from "vitest";
import { MAX_IDENTIFIER_CHARS, capCells, checkIdentifier, cleanVersion, rowMessageLimit } from "../../../src/platform/target-db/session.js";
import { DatabaseScanError } from "../../../src/platform/target-db/target.js";

describe("values read from a scanned server are capped", () => {
  it.each([
    ["PostgreSQL 16.4", "PostgreSQL 16.4"],
    ["8.0.36-0ubuntu0.22.04.1", "8.0.36-0ubuntu0.22.04.1"],
    ["16.0\u0000\u001b[31mred\u202e", "16.0[31mred"], // control and bidi characters dropped
    ["x".repeat(10_000), `${"x".repeat(120)}…`],
    [null, ""],
    [42, "42"],
  ])("cleanVersion(%j) → %j", (input, expected) => {
    expect(cleanVersion(input)).toBe(expected);
  });

  it("identifiers: up to 128 characters pass, longer or empty ones stop the scan", () => {
    expect(checkIdentifier("k".repeat(MAX_IDENTIFIER_CHARS), "table")).toHaveLength(128);
    for (const bad of ["", "k".repeat(129), 7, null]) {
      expect(() => checkIdentifier(bad, "column")).toThrow(DatabaseScanError);
    }
    expect(() => checkIdentifier("k".repeat(129), "column")).toThrow(/a column name that is empty or longer than 128 characters/);
  });

  it("cells are cut to the characters asked for, other values left alone", () => {
    expect(capCells(["abcdef", null, 12, "ab"], 3)).toEqual(["abc", null, 12, "ab"]);
  });

  it("a sampled row may carry its cells at 4 bytes per character, plus framing", () => {
    expect(rowMessageLimit(2, 1000)).toBe(2 * (4000 + 16) + 65_536);
  });
});
