/**
 * Admission of large documents alone (no scan runs: SCAN_WORKERS=0): `startDocumentScan` with one
 * document of each size, `rounds` times, through the real server. Prints the mutation's time
 * (median, max), `/healthz` max (a probe every 10 ms) and the server's own event-loop lag max
 * while admissions run. Asserts nothing; compare runs on the same machine close in time.
 *
 *   DATABASE_URL=... node --import @swc-node/register/esm-register bench/admission.bench.ts [--sizes 3,10] [--rounds 5]
 */
import os from "node:os";
import { createLogger } from "../src/platform/observability/logger.js";
import { startServerProcess } from "../test/support/server-process.js";
import { benchDatabase, denseText, graphqlClient, loopLagMaxMs, watchServer } from "./server-bench.js";

const log = createLogger({ level: "warn", name: "bench" });
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const sizesMb = arg("sizes", "3,10").split(",").map(Number);
const rounds = Number(arg("rounds", "5"));

if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL is required");
const db = await benchDatabase("admit", log);
const server = await startServerProcess({ DATABASE_URL: db.url, SCAN_WORKERS: "0", MAX_SCANS_PER_USER: "1000", MAX_QUEUED_SCANS: "1000" });
const gql = graphqlClient(server, await server.token("bench"));

console.log(`admission (cpus ${os.availableParallelism()}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`);
const { openSession } = await gql<{ openSession: { id: string } }>(`mutation { openSession(input: { name: "bench" }) { id } }`);
const admit = (text: string, name: string) =>
  gql<{ r: { id: string } }>(`mutation S($i: DocumentScanInput!) { r: startDocumentScan(input: $i) { id } }`, {
    i: { sessionId: openSession.id, documents: [{ name, text }] },
  });
await admit(denseText(100_000), "warm.txt");
for (const mb of sizesMb) {
  const text = denseText(mb * 1_000_000);
  await loopLagMaxMs(server); // reset the server's max
  const stop = watchServer(server, 10);
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await admit(text, `dense-${mb}mb-${i}.txt`);
    times.push(performance.now() - t0);
  }
  const { healthzMaxMs: healthzMax } = await stop();
  const lag = await loopLagMaxMs(server);
  times.sort((a, b) => a - b);
  console.log(
    `  ${mb} MB x ${rounds}: startDocumentScan median ${Math.round(times[Math.floor(rounds / 2)]!)} ms, max ${Math.round(times[rounds - 1]!)} ms; /healthz max ${healthzMax} ms; server event-loop lag max ${lag} ms`,
  );
}
await server.stop();
await db.drop();
