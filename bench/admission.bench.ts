/**
 * Admission of large documents alone (no scan runs: SCAN_WORKERS=0): `startDocumentScan` with one
 * document of each size, `rounds` times, through the real server. Prints the mutation's time
 * (median, max), `/healthz` max (a probe every 10 ms) and the server's own event-loop lag max
 * while admissions run. Asserts nothing; compare runs on the same machine close in time.
 *
 *   DATABASE_URL=... node --import @swc-node/register/esm-register bench/admission.bench.ts [--sizes 3,10] [--rounds 5]
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import os from "node:os";
import pg from "pg";
import { applyMigrations } from "../src/platform/db/migrate.js";
import { createLogger } from "../src/platform/observability/logger.js";
import { startServerProcess, type ServerProcess } from "../test/support/server-process.js";

const log = createLogger({ level: "warn", name: "bench" });
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const sizesMb = arg("sizes", "3,10").split(",").map(Number);
const rounds = Number(arg("rounds", "5"));

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error("DATABASE_URL is required");
const dbName = `dg_bench_admit_${randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`create database ${dbName}`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;
await applyMigrations(url.toString(), log);
const server = await startServerProcess({ DATABASE_URL: url.toString(), SCAN_WORKERS: "0", MAX_SCANS_PER_USER: "1000", MAX_QUEUED_SCANS: "1000" });
const token = await server.token("bench");

async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

async function loopLagMaxMs(s: ServerProcess): Promise<number | null> {
  const text = await fetch(`${s.base}/metrics`).then((r) => (r.ok ? r.text() : ""), () => "");
  const m = /^dg_nodejs_eventloop_lag_max_seconds\S* ([0-9.e+-]+)$/m.exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

function watch(s: ServerProcess) {
  let maxMs = 0;
  let stopped = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const running = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        http.get(`${s.base}/healthz`, { agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        }).on("error", () => resolve());
      });
      maxMs = Math.max(maxMs, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return async () => {
    stopped = true;
    await running;
    agent.destroy();
    return Math.round(maxMs);
  };
}

function denseText(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `klant ${i}: k${i}.de.vries@voorbeeld.nl tel 06-${String(10_000_000 + (i % 90_000_000)).slice(-8)}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join("");
}

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
  const stop = watch(server);
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await admit(text, `dense-${mb}mb-${i}.txt`);
    times.push(performance.now() - t0);
  }
  const healthzMax = await stop();
  const lag = await loopLagMaxMs(server);
  times.sort((a, b) => a - b);
  console.log(
    `  ${mb} MB x ${rounds}: startDocumentScan median ${Math.round(times[Math.floor(rounds / 2)]!)} ms, max ${Math.round(times[rounds - 1]!)} ms; /healthz max ${healthzMax} ms; server event-loop lag max ${lag} ms`,
  );
}
await server.stop();
await admin.query(`drop database ${dbName} with (force)`);
await admin.end();
