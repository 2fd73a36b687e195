import { describe, expect, it } from "vitest";
import { throwIfAborted } from "../../../src/shared/async.js";

class StopError extends Error {}

describe("throwIfAborted", () => {
  it("does nothing until the signal aborts, then throws the caller's error class", () => {
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal, StopError)).not.toThrow();
    expect(() => throwIfAborted(undefined, StopError)).not.toThrow();
    controller.abort("lost");
    expect(() => throwIfAborted(controller.signal, StopError)).toThrow(StopError);
  });
});
