/**
 * The canary (issue 16): a test that must fail. `.ci/run` runs it through `npm test` before
 * the real suite and stops CI if that run exits 0, so a test runner whose verdict is ignored
 * (as async-exit-hook once made it) cannot go unnoticed. Kept out of the default include.
 */
import { expect, it } from "vitest";

it("fails on purpose: npm test must exit non-zero", () => {
  expect(1 + 1).toBe(3);
});
