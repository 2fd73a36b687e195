import { describe, expect, it } from "vitest";
import { formatBytes } from "../../../src/shared/text.js";

const MB = 1024 * 1024;

/** One byte formatter for every message that names a size (uploads, zip budgets, the wire guard), as the web client writes them. */
describe("formatBytes", () => {
  it.each([
    [0, "0 bytes"],
    [12, "12 bytes"],
    [1023, "1023 bytes"],
    [1024, "1 KB"],
    [2048, "2 KB"],
    [10_000, "10 KB"],
    [1024 * 1023.6, "1 MB"], // not "1024 KB"
    [MB, "1 MB"],
    [1.04 * MB, "1 MB"],
    [1.5 * MB, "1.5 MB"],
    [4 * MB, "4 MB"],
    [10 * MB - 100, "10 MB"],
    [12.4 * MB, "12 MB"],
    [16777216, "16 MB"],
    [400_000_000, "381 MB"],
  ])("%d -> %s", (n, text) => expect(formatBytes(n)).toBe(text));
});
