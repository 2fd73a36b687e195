import { describe, expect, it } from "vitest";
import { isUuid } from "../../../src/shared/ids.js";

describe("isUuid", () => {
  it.each([
    ["0b6f1c1e-2f5a-4c1e-9d3b-7a1e2c3d4e5f", true],
    ["0B6F1C1E-2F5A-4C1E-9D3B-7A1E2C3D4E5F", true],
    ["0b6f1c1e2f5a4c1e9d3b7a1e2c3d4e5f", false],
    ["0b6f1c1e-2f5a-4c1e-9d3b-7a1e2c3d4e5", false],
    [" 0b6f1c1e-2f5a-4c1e-9d3b-7a1e2c3d4e5f", false],
    ["0b6f1c1e-2f5a-4c1e-9d3b-7a1e2c3d4e5f\n", false],
    ["zb6f1c1e-2f5a-4c1e-9d3b-7a1e2c3d4e5f", false],
    ["", false],
  ])("%j -> %s", (value, expected) => {
    expect(isUuid(value)).toBe(expected);
  });

  it("is false for what is not a string", () => {
    expect(isUuid(42 as unknown as string)).toBe(false);
    expect(isUuid(null as unknown as string)).toBe(false);
  });
});
