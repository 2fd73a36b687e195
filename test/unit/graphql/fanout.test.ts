import "reflect-metadata";
import { execute, parse, subscribe, type ExecutionResult, type GraphQLSchema } from "graphql";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createFanoutSubscribe, FANOUT_SINK } from "../../../src/graphql/fanout.js";
import { buildAppSchema, FANOUT } from "../../../src/graphql/schema.js";
import { MemoryPubSub } from "../../../src/platform/pubsub/memory.pubsub.js";
import { ScanStatus } from "../../../src/modules/scans/scan.type.js";

/**
 * The fan-out's projector must give exactly what graphql-js's execution gives, for every shape
 * of event and selection; and one result per event per distinct operation is shared.
 */
let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema(new MemoryPubSub());
});

const FRAGMENT = `fragment P on ScanProgress { scanId status progress stage itemsProcessed itemsTotal queuePosition findingsCount riskLevel seq at error { code message } }`;

/** A context whose feeds hand out the given one-event source (standing in for ScanEventStream). */
const contextWith = (source: () => AsyncIterableIterator<unknown>) => ({
  user: { id: "alice", role: "USER" },
  services: { scanFeed: { myScans: async () => source(), scanProgress: async () => source() } },
});
const once = (e: unknown) => () =>
  (async function* () {
    yield e;
  })();

const event = (over: Record<string, unknown> = {}) => ({
  scanId: "6f1c2b0e-0000-4000-8000-000000000001",
  status: ScanStatus.RUNNING,
  progress: 0.25,
  stage: "reading",
  itemsProcessed: 3,
  itemsTotal: 12,
  queuePosition: null,
  findingsCount: 2,
  riskLevel: null,
  error: null,
  seq: 7,
  at: new Date("2026-12-01T10:00:00.000Z"),
  ownerId: "alice",
  ...over,
});

/** Drives one subscription over a scripted source through both executors. */
async function both(query: string, events: unknown[], variables?: Record<string, unknown>) {
  const document = parse(query);
  const results: Array<{ ours: ExecutionResult; reference: ExecutionResult }> = [];
  for (const e of events) {
    const reference = await execute({ schema, document, rootValue: e, variableValues: variables, contextValue: {} });
    const fan = createFanoutSubscribe(schema, FANOUT);
    const args = { schema, document, variableValues: variables, contextValue: contextWith(once(e)) };
    const iterator = (await fan(args)) as AsyncIterableIterator<ExecutionResult>;
    const ours = (await iterator.next()).value as ExecutionResult;
    await iterator.return?.();
    results.push({ ours, reference });
  }
  return results;
}

describe("fan-out projector = graphql-js execution", () => {
  it.each([
    ["every field through a fragment", `subscription { myScans { ...P } } ${FRAGMENT}`, {}],
    ["aliases and __typename", `subscription { feed: myScans { id: scanId __typename s: status e: error { __typename code } } }`, {}],
    ["scanProgress with a variable", `subscription($id: ID!) { scanProgress(scanId: $id) { scanId seq at } }`, { id: "x" }],
    ["an inline fragment", `subscription { myScans { ... on ScanProgress { scanId riskLevel } } }`, {}],
    ["a directive (falls back to execute)", `subscription($x: Boolean!) { myScans { scanId stage @include(if: $x) } }`, { x: false }],
  ])("%s", async (_name, query, variables) => {
    const events = [
      event(),
      event({ status: ScanStatus.FAILED, error: { code: "TIMEOUT", message: "took too long" }, riskLevel: "HIGH", stage: null, itemsTotal: null }),
      event({ status: ScanStatus.QUEUED, queuePosition: 4, progress: 0 }),
      event({ scanId: null }), // a null in a non-null field: both report it the same way
    ];
    for (const { ours, reference } of await both(query, events, variables)) {
      expect(JSON.parse(JSON.stringify(ours))).toEqual(JSON.parse(JSON.stringify(reference)));
    }
  });
});

describe("one result per event per distinct operation", () => {
  it("shares the result object between subscribers of the same operation and variables, not across variables", async () => {
    const fan = createFanoutSubscribe(schema, FANOUT);
    const document = parse(`subscription($id: ID!) { scanProgress(scanId: $id) { scanId seq } }`);
    const shared = event();
    const open = async (id: string) =>
      (await fan({
        schema,
        document,
        variableValues: { id },
        contextValue: contextWith(once(shared)),
      })) as AsyncIterableIterator<ExecutionResult>;
    const [a, b, c] = await Promise.all([open("1"), open("1"), open("2")]);
    const [ra, rb, rc] = await Promise.all([a.next(), b.next(), c.next()]);
    expect(ra.value).toBe(rb.value);
    expect(rc.value).not.toBe(ra.value);
    expect(rc.value).toEqual(ra.value);
  });

  it("never shares a subscription outside the declared roots", async () => {
    const fan = createFanoutSubscribe(schema, { shareableRoots: new Set(), plainTypes: FANOUT.plainTypes });
    const document = parse(`subscription { myScans { scanId } }`);
    const shared = event();
    const open = async () =>
      (await fan({
        schema,
        document,
        contextValue: contextWith(once(shared)),
      })) as AsyncIterableIterator<ExecutionResult>;
    const [a, b] = await Promise.all([open(), open()]);
    const [ra, rb] = await Promise.all([a.next(), b.next()]);
    expect(ra.value).not.toBe(rb.value);
    expect(ra.value).toEqual(rb.value);
  });
});

// Keep graphql-js's own subscribe in view: the fan-out must accept what it accepts.
void subscribe;

describe("serialized once per event per distinct operation (FANOUT_SINK)", () => {
  /** A sink standing in for ws.ts: records the JSON handed to it per subscription. */
  const recordingSink = (sent: string[], registered: () => object | null) => ({
    send(iterator: object, json: string, written: (err?: Error | null) => void) {
      if (registered() !== iterator) return false;
      sent.push(json);
      queueMicrotask(() => written());
      return true;
    },
  });

  it("hands every subscriber of one operation the same JSON, built once, equal to graphql-ws's own payload", async () => {
    const fan = createFanoutSubscribe(schema, FANOUT);
    const document = parse(`subscription($id: ID!) { scanProgress(scanId: $id) { ...P } } ${FRAGMENT}`);
    // Three events, then the source ends; every subscriber sees the same event objects (as the pub/subs hand them).
    const events = [event(), event({ seq: 8, progress: 0.5 }), event({ seq: 9, status: ScanStatus.SUCCEEDED, progress: 1 })];
    const source = () =>
      (async function* () {
        for (const e of events) yield e;
      })();
    const sent: string[][] = [[], [], []];
    const iterators: Array<AsyncIterableIterator<ExecutionResult>> = [];
    for (let i = 0; i < 3; i++) {
      const it = (await fan({
        schema,
        document,
        variableValues: { id: "1" },
        contextValue: contextWith(source),
        [FANOUT_SINK]: recordingSink(sent[i]!, () => iterators[i] ?? null),
      } as never)) as AsyncIterableIterator<ExecutionResult>;
      iterators.push(it);
    }
    const stringify = vi.spyOn(JSON, "stringify");
    // With a sink, next() writes through it and resolves only when the source ends.
    const ends = await Promise.all(iterators.map((it) => it.next()));
    const calls = stringify.mock.calls.length;
    stringify.mockRestore();
    expect(ends.every((r) => r.done)).toBe(true);
    expect(calls).toBe(events.length); // once per event, not once per event per subscriber
    for (const got of sent) expect(got).toEqual(sent[0]);
    const reference = await Promise.all(events.map((e) => execute({ schema, document, rootValue: e, variableValues: { id: "1" }, contextValue: {} })));
    // graphql-ws's message is JSON.stringify({ id, type, payload: result }): the payload part is this.
    expect(sent[0]).toEqual(reference.map((r) => JSON.stringify({ ...r })));
  });

  it("yields a result with errors to the transport (masked there), and drops events for an operation no longer registered", async () => {
    const fan = createFanoutSubscribe(schema, FANOUT);
    const document = parse(`subscription { myScans { scanId status } }`);
    const events = [event(), event({ scanId: null, seq: 8 }), event({ seq: 9 })];
    const source = () =>
      (async function* () {
        for (const e of events) yield e;
      })();
    const sent: string[] = [];
    let registered = true;
    let self: object | null = null;
    const it = (await fan({
      schema,
      document,
      contextValue: contextWith(source),
      [FANOUT_SINK]: recordingSink(sent, () => (registered ? self : null)),
    } as never)) as AsyncIterableIterator<ExecutionResult>;
    self = it;
    const withErrors = await it.next();
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!)).toEqual({ data: { myScans: { scanId: events[0]!.scanId, status: "RUNNING" } } });
    expect(withErrors.done).toBe(false);
    expect(withErrors.value?.errors?.length).toBe(1);
    registered = false; // completed by the client: graphql-ws no longer holds this iterator
    expect((await it.next()).done).toBe(true);
    expect(sent).toHaveLength(1);
  });

  it("pulls the next event only once the previous one is written (backpressure)", async () => {
    const fan = createFanoutSubscribe(schema, FANOUT);
    const document = parse(`subscription { myScans { seq } }`);
    let pulled = 0;
    const source = () =>
      (async function* () {
        for (let seq = 1; seq <= 3; seq++) {
          pulled++;
          yield event({ seq });
        }
      })();
    const writes: Array<() => void> = [];
    let self: object | null = null;
    const it = (await fan({
      schema,
      document,
      contextValue: contextWith(source),
      [FANOUT_SINK]: {
        send: (iterator: object, _json: string, written: () => void) => {
          if (iterator !== self) return false;
          writes.push(written);
          return true;
        },
      },
    } as never)) as AsyncIterableIterator<ExecutionResult>;
    self = it;
    const done = it.next();
    await vi.waitFor(() => expect(writes).toHaveLength(1));
    for (let turn = 0; turn < 5; turn++) await new Promise((r) => setImmediate(r)); // a few turns: no pull while the write is pending
    expect(pulled).toBe(1);
    writes[0]!();
    await vi.waitFor(() => expect(writes).toHaveLength(2));
    expect(pulled).toBe(2);
    writes[1]!();
    await vi.waitFor(() => expect(writes).toHaveLength(3));
    writes[2]!();
    expect((await done).done).toBe(true);
  });
});

describe("push mode: a ScanEventStream written through the sink without a promise per event", () => {
  /** A sink whose writes complete when the test says so; records the JSON per write. */
  function manualSink(registered: () => object | null) {
    const sent: string[] = [];
    const pending: Array<(err?: Error | null) => void> = [];
    return {
      sent,
      pending,
      sink: {
        send(iterator: object, json: string, written: (err?: Error | null) => void) {
          if (registered() !== iterator) return false;
          sent.push(json);
          pending.push(written);
          return true;
        },
      },
    };
  }
  const turns = async (n = 5) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };

  async function open(document: string, opts: { completeAfter?: string; current?: Array<Record<string, unknown>> } = {}) {
    const { ScanEventStream } = await import("../../../src/modules/scans/scan-progress.stream.js");
    const pubsub = new MemoryPubSub();
    const stream = await ScanEventStream.open({
      pubsub,
      topic: "t",
      completeAfterTerminalOf: opts.completeAfter,
      readCurrent: async () => (opts.current ?? []) as never,
    });
    const fan = createFanoutSubscribe(schema, FANOUT);
    let self: object | null = null;
    const wire = manualSink(() => self);
    const it = (await fan({
      schema,
      document: parse(document),
      contextValue: contextWith(() => stream),
      [FANOUT_SINK]: wire.sink,
    } as never)) as AsyncIterableIterator<ExecutionResult>;
    self = it;
    return { pubsub, stream, it, wire };
  }

  it("writes in order, one frame in flight, the latest event per scan while a write is pending", async () => {
    const { pubsub, it, wire } = await open(`subscription { myScans { scanId seq } }`, { current: [event({ seq: 1 })] });
    const done = it.next();
    await turns();
    expect(wire.sent.map((j) => JSON.parse(j).data.myScans.seq)).toEqual([1]);
    // While the first frame is being written, three more events come: only the latest is kept.
    for (const seq of [2, 3, 4]) await pubsub.publish("t", event({ seq }));
    await turns();
    expect(wire.sent).toHaveLength(1);
    wire.pending.shift()!();
    await turns();
    expect(wire.sent.map((j) => JSON.parse(j).data.myScans.seq)).toEqual([1, 4]);
    // Older or equal sequence numbers are dropped; another scan's event is its own line.
    wire.pending.shift()!();
    await pubsub.publish("t", event({ seq: 4 }));
    await pubsub.publish("t", event({ seq: 1, scanId: "6f1c2b0e-0000-4000-8000-000000000002" }));
    await turns();
    expect(wire.sent.map((j) => JSON.parse(j).data.myScans.seq)).toEqual([1, 4, 1]);
    wire.pending.shift()!();
    await it.return!();
    expect((await done).done).toBe(true);
    expect(pubsub.topicCount).toBe(0); // the stream's listener is gone
  });

  it("completes after the followed scan's terminal event is written", async () => {
    const scanId = "6f1c2b0e-0000-4000-8000-000000000001";
    const { pubsub, it, wire } = await open(`subscription { scanProgress(scanId: "x") { status seq } }`, { completeAfter: scanId, current: [event({ seq: 1 })] });
    const done = it.next();
    await turns();
    wire.pending.shift()!();
    await pubsub.publish("t", event({ seq: 2, status: ScanStatus.SUCCEEDED }));
    await turns();
    expect(wire.sent).toHaveLength(2);
    let settled = false;
    void done.then(() => (settled = true));
    await turns();
    expect(settled).toBe(false); // not before the terminal frame is written
    wire.pending.shift()!();
    expect((await done).done).toBe(true);
    expect(pubsub.topicCount).toBe(0);
  });

  it("hands a result with errors to the transport and resumes at its next pull", async () => {
    const { pubsub, it, wire } = await open(`subscription { myScans { scanId status } }`, { current: [event({ seq: 1, scanId: null })] });
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(first.value?.errors?.length).toBe(1);
    expect(wire.sent).toHaveLength(0);
    await pubsub.publish("t", event({ seq: 2 }));
    const rest = it.next(); // the transport sent the error result and pulls again
    await turns();
    expect(wire.sent.map((j) => JSON.parse(j).data.myScans.status)).toEqual(["RUNNING"]);
    wire.pending.shift()!();
    await it.return!();
    expect((await rest).done).toBe(true);
  });

  it("a failed write ends the subscription and removes its listener", async () => {
    const { pubsub, it, wire } = await open(`subscription { myScans { seq } }`, { current: [event({ seq: 1 })] });
    const done = it.next();
    await turns();
    wire.pending.shift()!(new Error("EPIPE"));
    expect((await done).done).toBe(true);
    expect(pubsub.topicCount).toBe(0);
    await pubsub.publish("t", event({ seq: 2 }));
    await turns();
    expect(wire.sent).toHaveLength(1);
  });
});
