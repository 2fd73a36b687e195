import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { MemoryPubSub } from "../../../src/platform/pubsub/memory.pubsub.js";
import { ScanEventStream } from "../../../src/modules/scans/scan-progress.stream.js";
import { ScanStatus, type ScanProgress } from "../../../src/modules/scans/scan.type.js";

const event = (scanId: string, seq: number, status = ScanStatus.RUNNING, progress = seq / 100): ScanProgress => ({
  scanId,
  status,
  progress,
  stage: null,
  itemsProcessed: seq,
  itemsTotal: 100,
  queuePosition: null,
  findingsCount: 0,
  riskLevel: null,
  error: null,
  seq,
  at: new Date(0),
});

/**
 * Reads every event the stream holds now. MemoryPubSub delivers synchronously, so after an
 * `await publish()` the stream's backlog says exactly what is pending: no timer decides when
 * "nothing more is coming" (each `next()` is called only when an event is there to take).
 */
async function drain(stream: ScanEventStream): Promise<ScanProgress[]> {
  const out: ScanProgress[] = [];
  while (stream.backlog > 0) {
    const r = await stream.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** The next event, for one that arrives later (after an asynchronous re-read); fails after 5 s. */
async function nextEvent(stream: ScanEventStream): Promise<ScanProgress> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    stream.next(),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no event within 5 s")), 5_000))),
  ]).finally(() => clearTimeout(timer));
  if (r.done) throw new Error("the stream ended");
  return r.value;
}

describe("ScanEventStream", () => {
  it("listens before reading the current state, so an event published in between is not lost", async () => {
    const pubsub = new MemoryPubSub();
    const stream = await ScanEventStream.open({
      pubsub,
      topic: "t",
      readCurrent: async () => {
        // An event published while the state is being read (after listen) must survive.
        await pubsub.publish("t", event("s", 6));
        return [event("s", 5)];
      },
    });
    expect((await drain(stream)).map((e) => e.seq)).toEqual([6]);
    await stream.return();
  });

  it("delivers in sequence order and drops older or duplicate events", async () => {
    const pubsub = new MemoryPubSub();
    const stream = await ScanEventStream.open({ pubsub, topic: "t", readCurrent: async () => [event("s", 3)] });
    expect((await drain(stream)).map((e) => e.seq)).toEqual([3]);
    const seen: number[] = [];
    for (const seq of [2, 3, 4, 4, 1, 5, 7, 6]) {
      await pubsub.publish("t", event("s", seq));
      seen.push(...(await drain(stream)).map((e) => e.seq));
    }
    expect(seen).toEqual([4, 5, 7]);
    await stream.return();
  });

  it("keeps only the latest event per scan for a slow reader, and never drops a terminal one", async () => {
    const pubsub = new MemoryPubSub();
    const stream = await ScanEventStream.open({ pubsub, topic: "t", readCurrent: async () => [] });
    for (let seq = 1; seq <= 10_000; seq++) {
      await pubsub.publish("t", event("a", seq));
      await pubsub.publish("t", event("b", seq));
      await pubsub.publish("t", event("c", seq));
    }
    await pubsub.publish("t", event("b", 10_001, ScanStatus.SUCCEEDED, 1));
    expect(stream.backlog).toBe(3); // bounded by scans followed, not by events published
    const got = await drain(stream);
    expect(got.map((e) => `${e.scanId}:${e.seq}`)).toEqual(["a:10000", "b:10001", "c:10000"]);
    expect(got[1]!.status).toBe("SUCCEEDED");
    await stream.return();
  });

  it("completes after the followed scan's terminal event", async () => {
    const pubsub = new MemoryPubSub();
    const stream = await ScanEventStream.open({
      pubsub,
      topic: "t",
      completeAfterTerminalOf: "s",
      readCurrent: async () => [event("s", 1, ScanStatus.QUEUED)],
    });
    expect((await stream.next()).value.status).toBe("QUEUED");
    await pubsub.publish("t", event("s", 2, ScanStatus.CANCELLED));
    expect((await stream.next()).value.status).toBe("CANCELLED");
    expect((await stream.next()).done).toBe(true);
    expect(pubsub.topicCount).toBe(0); // unsubscribed
  });

  it("re-reads the current state after the transport reconnects", async () => {
    class FlakyPubSub extends MemoryPubSub {
      conn = new Set<(c: boolean) => void>();
      override onConnectionChange(l: (c: boolean) => void) {
        this.conn.add(l);
        return () => void this.conn.delete(l);
      }
    }
    const pubsub = new FlakyPubSub();
    let state = event("s", 1);
    const stream = await ScanEventStream.open({ pubsub, topic: "t", readCurrent: async () => [state] });
    expect((await drain(stream)).map((e) => e.seq)).toEqual([1]);
    for (const l of pubsub.conn) l(false);
    state = event("s", 9, ScanStatus.SUCCEEDED, 1); // the outcome happened while disconnected
    for (const l of pubsub.conn) l(true);
    // The re-read is asynchronous: wait for its event, then nothing else is pending.
    const got = [await nextEvent(stream), ...(await drain(stream))];
    expect(got.map((e) => [e.seq, e.status])).toEqual([[9, "SUCCEEDED"]]);
    await stream.return();
  });
});
