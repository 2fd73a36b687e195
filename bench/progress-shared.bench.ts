/**
 * bench/progress-shared (issue 11.6): the fan-out stage alone, in process, for N subscriptions
 * running ONE operation (same document and variables), as clients following one scan would.
 * Compares what graphql-ws did per subscriber (JSON.stringify of the whole `next` message, the
 * result object already shared) with the FANOUT_SINK path (the result's JSON built once per
 * event, the id spliced per subscriber). No sockets: CPU per delivery of this stage only.
 *
 *   node --import @swc-node/register/esm-register bench/progress-shared.bench.ts
 */
import "reflect-metadata";
import { parse, type ExecutionResult } from "graphql";
import { createFanoutSubscribe, FANOUT_SINK } from "../src/graphql/fanout.js";
import { buildAppSchema, FANOUT } from "../src/graphql/schema.js";
import { MemoryPubSub } from "../src/platform/pubsub/memory.pubsub.js";
const schema = await buildAppSchema(new MemoryPubSub());
const N = 10_000, EVENTS = 20;
const document = parse(`subscription($id: ID!) { scanProgress(scanId: $id) { scanId status progress stage itemsProcessed itemsTotal queuePosition findingsCount riskLevel seq at error { code message } } }`);
const ev = (seq: number) => ({ scanId: "6f1c2b0e-0000-4000-8000-000000000001", status: "RUNNING", progress: seq / 100, stage: "reading", itemsProcessed: seq, itemsTotal: 100, queuePosition: null, findingsCount: 2, riskLevel: null, error: null, seq, at: new Date(), ownerId: "a" });
const events = Array.from({ length: EVENTS }, (_, i) => ev(i + 1));
async function run(withSink: boolean) {
  const fan = createFanoutSubscribe(schema, FANOUT);
  let bytes = 0;
  const its: AsyncIterableIterator<ExecutionResult>[] = [];
  for (let i = 0; i < N; i++) {
    const head = `{"id":${JSON.stringify(String(i))},"type":"next","payload":`;
    const source = (async function* () { for (const e of events) yield e; })();
    const args: any = { schema, document, variableValues: { id: "x" }, contextValue: { user: { id: "a", role: "USER" }, services: { scanFeed: { scanProgress: async () => source, myScans: async () => source } } } };
    if (withSink) args[FANOUT_SINK] = { send: (it: object, json: string) => { const f = head + json + "}"; bytes += Buffer.byteLength(f); return Promise.resolve(); } };
    its.push((await fan(args)) as any);
  }
  const t0 = process.cpuUsage();
  await Promise.all(its.map(async (it, i) => {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      // what graphql-ws does per subscriber per event
      const f = JSON.stringify({ id: String(i), type: "next", payload: { ...r.value } });
      bytes += Buffer.byteLength(f);
    }
  }));
  const c = process.cpuUsage(t0);
  return { usPerDelivery: (c.user + c.system) / (N * EVENTS), bytes };
}
for (let k = 0; k < 3; k++) {
  const a = await run(false), b = await run(true);
  console.log(`${N} subscribers x ${EVENTS} events, one operation: yield+stringify per subscriber ${a.usPerDelivery.toFixed(2)} us/delivery; sink (JSON once, id spliced) ${b.usPerDelivery.toFixed(2)} us/delivery; bytes equal ${a.bytes === b.bytes}`);
}
