import { describe, expect, it } from "vitest";
import { TurnScheduler } from "../../../src/shared/turns.js";

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe("TurnScheduler", () => {
  it("runs tasks in order, and a failing task does not stop the others", async () => {
    const turns = new TurnScheduler(8, 4);
    const seen: number[] = [];
    for (let i = 0; i < 100; i++)
      turns.schedule({
        run: () => {
          seen.push(i);
          if (i === 10) throw new Error("one task fails");
        },
      });
    await new Promise<void>((resolve) => turns.schedule({ run: resolve }));
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(turns.pending).toBe(0);
  });

  it("gives the event loop a turn once a turn's budget is spent: other work runs before a long queue ends", async () => {
    const turns = new TurnScheduler(4, 2);
    let done = 0;
    for (let i = 0; i < 40; i++) turns.schedule({ run: () => (busy(1), done++) });
    // Queued after the tasks: without turns it would run only after all 40 (about 40 ms).
    const doneWhenOtherWorkRan = await new Promise<number>((resolve) => setImmediate(() => setImmediate(() => resolve(done))));
    expect(doneWhenOtherWorkRan).toBeGreaterThan(0);
    expect(doneWhenOtherWorkRan).toBeLessThan(40);
    await turns.turn();
    expect(done).toBe(40);
  });

  it("turn() resolves once the tasks queued before it have run", async () => {
    const turns = new TurnScheduler(8, 1);
    const order: string[] = [];
    turns.schedule({ run: () => order.push("a") });
    const waited = turns.turn().then(() => order.push("turn"));
    await waited;
    expect(order).toEqual(["a", "turn"]);
  });
});
