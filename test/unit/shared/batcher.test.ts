import { describe, expect, it } from "vitest";
import { Batcher } from "../../../src/shared/batcher.js";
import { TurnScheduler } from "../../../src/shared/turns.js";

/** A loader whose calls we hold open, to see what arrives while they run. */
function heldLoader() {
  const calls: number[][] = [];
  const release: Array<() => void> = [];
  const load = (keys: number[]) => {
    calls.push(keys);
    return new Promise<number[]>((resolve) => release.push(() => resolve(keys.map((k) => k * 10))));
  };
  return { calls, release, load };
}

const turn = () => new Promise((r) => setImmediate(r));

describe("Batcher", () => {
  it("answers each key in order from one call for keys that arrive in the same turn", async () => {
    const l = heldLoader();
    const b = new Batcher(l.load);
    const answers = Promise.all([1, 2, 3].map((k) => b.load(k)));
    await turn();
    expect(l.calls).toEqual([[1, 2, 3]]);
    l.release.shift()!();
    expect(await answers).toEqual([10, 20, 30]);
  });

  it("grows batches under load: keys arriving while maxConcurrent calls run go out together in the next", async () => {
    const l = heldLoader();
    const b = new Batcher(l.load, { maxConcurrent: 1 });
    const first = b.load(1);
    await turn();
    const later = Promise.all([2, 3, 4, 5].map((k) => b.load(k)));
    await turn();
    expect(l.calls).toEqual([[1]]); // still one call in flight
    l.release.shift()!();
    await first;
    await turn(); // the finished call frees its slot...
    await turn(); // ...and the waiting keys go out together
    expect(l.calls).toEqual([[1], [2, 3, 4, 5]]);
    l.release.shift()!();
    expect(await later).toEqual([20, 30, 40, 50]);
  });

  it("caps keys per call and rejects every key of a failed call", async () => {
    const calls: number[][] = [];
    const b = new Batcher(
      async (keys: number[]) => {
        calls.push(keys);
        if (keys.includes(3)) throw new Error("boom");
        return keys;
      },
      { maxBatch: 2, maxConcurrent: 4 },
    );
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((k) => b.load(k)));
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected", "fulfilled"]);
  });
});

describe("Batcher settleIn", () => {
  it("hands each caller its answer in turns of the event loop, in order, not all within one", async () => {
    const turns = new TurnScheduler(1, 1);
    const batcher = new Batcher(async (keys: number[]) => keys.map((k) => k * 2), { settleIn: turns });
    const settled: number[] = [];
    const busy = () => {
      const end = performance.now() + 2;
      while (performance.now() < end);
    };
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => batcher.load(i).then((v) => (busy(), settled.push(v)))));
    // Other work queued once the batch is answered gets a turn before every caller has continued.
    let seenByOtherWork = -1;
    const probe = (async () => {
      while (settled.length === 0) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      seenByOtherWork = settled.length;
    })();
    await all;
    await probe;
    expect(settled).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(seenByOtherWork).toBeGreaterThan(0);
    expect(seenByOtherWork).toBeLessThan(20);
  });
});
