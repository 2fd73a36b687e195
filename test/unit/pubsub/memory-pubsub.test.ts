import { describe, expect, it } from "vitest";
import { MemoryPubSub } from "../../../src/platform/pubsub/memory.pubsub.js";

describe("MemoryPubSub", () => {
  it("delivers synchronously to every listener of the topic, in order, and a failing one does not stop the rest", async () => {
    const bus = new MemoryPubSub();
    const seen: string[] = [];
    await bus.listen("t", (p) => seen.push(`a:${p}`));
    await bus.listen("t", () => {
      throw new Error("listener fails");
    });
    await bus.listen("t", (p) => seen.push(`c:${p}`));
    await bus.listen("other", (p) => seen.push(`o:${p}`));
    void bus.publish("t", 1);
    expect(seen).toEqual(["a:1", "c:1"]); // before publish's promise is awaited
  });

  it("removes exactly one listener per unlisten, even the same function listening twice; an unlisten is idempotent", async () => {
    const bus = new MemoryPubSub();
    let calls = 0;
    const fn = () => calls++;
    const u1 = await bus.listen("t", fn);
    const u2 = await bus.listen("t", fn);
    await bus.publish("t", 0);
    expect(calls).toBe(2);
    await u1();
    await u1();
    await bus.publish("t", 0);
    expect(calls).toBe(3);
    await u2();
    await bus.publish("t", 0);
    expect(calls).toBe(3);
    expect(bus.topicCount).toBe(0);
  });

  it("a listener added or removed while an event is delivered takes effect from the next event", async () => {
    const bus = new MemoryPubSub();
    const seen: string[] = [];
    let unlistenB: (() => Promise<void>) | null = null;
    await bus.listen("t", (p) => {
      seen.push(`a:${p}`);
      if (p === 1) {
        void bus.listen("t", (q) => seen.push(`late:${q}`));
        void unlistenB!();
      }
    });
    unlistenB = await bus.listen("t", (p) => seen.push(`b:${p}`));
    await bus.publish("t", 1);
    await new Promise((r) => setImmediate(r));
    await bus.publish("t", 2);
    expect(seen).toEqual(["a:1", "b:1", "a:2", "late:2"]);
  });
});
