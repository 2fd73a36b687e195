import { describe, expect, it } from "vitest";
import { SCAN_NAME_MAX, scanNameFromConnection, scanNameFromFiles } from "../../../src/modules/scans/scan-name.js";

describe("scanNameFromFiles", () => {
  it.each([
    [[], null],
    [["  "], null],
    [["customers.txt"], "customers.txt"],
    [["a.txt", "b.pdf"], "a.txt, b.pdf"],
    [["a.txt", "b.pdf", "c.docx"], "a.txt + 2 more"],
    [["big1.txt", "big2.txt", "big3.txt", "big4.txt", "big5.txt"], "big1.txt + 4 more"],
    [["src/app/config.ts"], "config.ts"],
    [["src/app/config.ts", "src/db.ts"], "config.ts, db.ts"],
  ])("%j -> %j", (names, expected) => {
    expect(scanNameFromFiles(names)).toBe(expected);
  });

  it("keeps paths when asked", () => {
    expect(scanNameFromFiles(["src/app/config.ts", "README.md", "x.ts"], { paths: true })).toBe("src/app/config.ts + 2 more");
  });

  it("never exceeds the bound, however long the names", () => {
    const long = "x".repeat(5_000);
    for (const names of [[long], [long, long], [long, "b", "c"], ["a", long]]) {
      const name = scanNameFromFiles(names)!;
      expect(name.length).toBeLessThanOrEqual(SCAN_NAME_MAX);
    }
    expect(scanNameFromFiles([long, "b", "c"])).toMatch(/^x+… \+ 2 more$/);
    expect(scanNameFromFiles(["a", long])).toMatch(/^a \+ 1 more$/);
  });
});

describe("scanNameFromConnection", () => {
  it.each([
    ["Local CRM", "Local CRM"],
    ["  crm  ", "crm"],
    ["", null],
    [null, null],
    [undefined, null],
  ])("%j -> %j", (name, expected) => {
    expect(scanNameFromConnection(name)).toBe(expected);
  });
  it("is bounded", () => {
    expect(scanNameFromConnection("c".repeat(500))!.length).toBe(SCAN_NAME_MAX);
  });
});
