/**
 * bench/progress (issue 5, Backpressure): N users each subscribed over graphql-ws to their own
 * RUNNING scan, beside a raw `ws` broadcast of the same payloads to the same number of sockets.
 *
 *   node --import @swc-node/register/esm-register bench/progress.bench.ts [--n 1000,5000] [--seconds 10]
 *        [--hz 1] [--max-seconds 5] [--overload-seconds 30] [--overload-factor 3] [--paused 0.05]
 *        [--no-raw] [--no-overload]
 *   (DATABASE_URL=... to use a server; else an embedded PostgreSQL in a temp dir)
 *
 * Processes: this orchestrator (PostgreSQL seeding, sampling), the server (progress-server.ts:
 * the real startApp with MemoryPubSub, or progress-raw-server.ts: bare ws), and the clients
 * (progress-clients.ts), each its own event loop, each with `ulimit -n 65536` where allowed.
 *
 * Per N and server:
 * - memory: server RSS (and heap) after GC before any connection, and with N idle subscribed
 *   connections: (after - before) / N;
 * - fixed rate: one event per scan `--hz` times a second (all N scans in one burst, as workers
 *   that tick together) for `--seconds`: deliveries/s, publish → receipt p50/p99 (hrtime stamp
 *   in `stage`), events missing (published - received), server CPU us per delivery (gross, and
 *   net of the server's idle CPU);
 * - saturation: bursts back to back for `--max-seconds` (raw: after its sockets drain; ours:
 *   after two event-loop turns, coalescing does the rest): deliveries/s that reached clients;
 * - overload (ours, largest N): `--paused` of the clients stop reading; publish at
 *   `--overload-factor` x the saturation rate for `--overload-seconds`; every second the server's
 *   RSS (from /proc, not from the busy process) and GET /healthz latency.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { execSync } from "node:child_process";
import pg from "pg";
import { signToken } from "../src/platform/auth/jwt.js";
import { startEmbeddedPostgres } from "../src/platform/db/embedded.js";
import { applyMigrations } from "../src/platform/db/migrate.js";
import { createLogger } from "../src/platform/observability/logger.js";
import { spawnChild, type BenchChild, type BenchScan } from "./progress-common.js";

// ---- arguments ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const flag = (name: string) => argv.includes(`--${name}`);
const NS = arg("n", "1000,5000").split(",").map(Number);
const SECONDS = Number(arg("seconds", "10"));
const HZ = Number(arg("hz", "1"));
const MAX_SECONDS = Number(arg("max-seconds", "5"));
const OVERLOAD_SECONDS = Number(arg("overload-seconds", "30"));
const OVERLOAD_FACTOR = Number(arg("overload-factor", "3"));
const PAUSED = Number(arg("paused", "0.05"));
const WITH_RAW = !flag("no-raw");
const WITH_OVERLOAD = !flag("no-overload");
const WITH_STORM = !flag("no-storm");
const WITH_FLOOD = !flag("no-flood");
const STORM_SPREAD_MS = Number(arg("storm-spread-ms", "2000"));
const MAX_N = Math.max(...NS);
const BENCH_ENCRYPTION_KEY = `k1:${Buffer.alloc(32, 7).toString("base64")}`;

const log = createLogger({ level: "warn", name: "bench" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");

console.log(`bench/progress  n=${NS.join(",")} hz=${HZ} seconds=${SECONDS} max=${MAX_SECONDS}s overload=${OVERLOAD_FACTOR}x/${OVERLOAD_SECONDS}s paused=${PAUSED}`);
console.log(`machine: ${os.cpus().length} cpus, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB, node ${process.version}, load ${load()}, ulimit -n here ${execSync("ulimit -n", { shell: "bash" }).toString().trim()} (children: ${execSync("ulimit -n 65536 2>/dev/null && ulimit -n || ulimit -Hn", { shell: "bash" }).toString().trim()})`);

// ---- database + seed ---------------------------------------------------------------------------
let databaseUrl = process.env.DATABASE_URL;
let stopDb = async () => undefined as unknown;
if (!databaseUrl) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "dg-bench-progress-"));
  const handle = await startEmbeddedPostgres({ dataDir: dir, log, ephemeral: true, database: "dg_bench_progress" });
  databaseUrl = handle.connectionString;
  stopDb = async () => {
    await handle.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
await applyMigrations(databaseUrl, log);
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
await db.query(`DELETE FROM "User" WHERE id LIKE 'bench-progress-%'`);
await db.query(`INSERT INTO "User" (id, role) SELECT 'bench-progress-' || g, 'USER' FROM generate_series(1, $1::int) g`, [MAX_N]);
await db.query(
  `INSERT INTO "Session" (id, "ownerId", "expiresAt") SELECT gen_random_uuid(), 'bench-progress-' || g, now() + interval '1 day' FROM generate_series(1, $1::int) g`,
  [MAX_N],
);
// RUNNING, held by a "worker" whose heartbeat is a day ahead, so the stall sweeper leaves them alone.
await db.query(`
  INSERT INTO "Scan" (id, "ownerId", "sessionId", kind, status, "itemsTotal", "workerId", "heartbeatAt", "startedAt", attempts)
  SELECT gen_random_uuid(), s."ownerId", s.id, 'DOCUMENT', 'RUNNING', 1000000, 'bench-progress', now() + interval '1 day', now(), 1
  FROM "Session" s WHERE s."ownerId" LIKE 'bench-progress-%'`);
const seeded = (
  await db.query<{ id: string; ownerId: string; sessionId: string }>(
    `SELECT id, "ownerId", "sessionId" FROM "Scan" WHERE "ownerId" LIKE 'bench-progress-%' ORDER BY substring("ownerId" from 16)::int`,
  )
).rows as BenchScan[];
await db.query("ANALYZE");
await db.end();

const secret = randomBytes(32).toString("base64url");
const tokens = await Promise.all(seeded.map((s) => signToken(secret, { sub: s.ownerId, expiresIn: "6h" })));
console.log(`seeded ${seeded.length} users x 1 RUNNING scan on ${process.env.DATABASE_URL ? "DATABASE_URL" : "embedded PostgreSQL"}`);

// ---- helpers -------------------------------------------------------------------------------------
/** CPU time (user + system) of a process so far, in ms, from /proc (USER_HZ = 100). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

function getMs(url: string, timeoutMs: number): Promise<{ ms: number; ok: boolean; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ ms: performance.now() - t0, ok: res.statusCode === 200, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ ms: performance.now() - t0, ok: false, body: "" }));
  });
}

function metric(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const [key, value] = [line.slice(0, line.lastIndexOf(" ")), Number(line.slice(line.lastIndexOf(" ") + 1))];
    out[key.slice(name.length) || "total"] = value;
  }
  return out;
}

interface Report {
  received: number;
  receivedHealthy: number;
  healthyClients: number;
  minPerHealthyClient: number;
  gaps: number;
  reordered: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  closed: Record<string, number>;
  open: number;
}
interface Loop {
  bursts: number;
  published: number;
  wallMs: number;
  cpuUs: number;
  maxBehindMs: number;
}

interface Row {
  kind: "raw" | "ours";
  n: number;
  connectMs: number;
  memPerConnKB: number;
  heapPerConnKB: number;
  memPerConnAllKB: number;
  rate: { deliveriesPerSec: number; p50: number; p99: number; max: number; missing: number; cpuUsPerDelivery: number; netCpuUsPerDelivery: number; maxBehindMs: number };
  sat: { deliveriesPerSec: number; cpuUsPerDelivery: number; published: number; received: number };
  load: string;
}
const rows: Row[] = [];
let overloadSummary: string[] = [];
let stormSummary: string[] = [];
let floodSummary: string[] = [];

/** Another user's query, every 50 ms, while something else happens: latency and error codes. */
function startProbe(url: string, token: string) {
  const times: number[] = [];
  const codes: Record<string, number> = {};
  let errors = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: "{ scans(first: 5) { totalCount } }" }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
        if (body.errors?.length) {
          errors++;
          const code = body.errors[0]!.extensions?.code ?? "?";
          codes[code] = (codes[code] ?? 0) + 1;
        }
      } catch {
        errors++;
        codes.transport = (codes.transport ?? 0) + 1;
      }
      times.push(performance.now() - t0);
      await sleep(Math.max(0, 50 - (performance.now() - t0)));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = [...times].sort((a, b) => a - b);
      const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
      return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN, errors, codes };
    },
  };
}

async function runOne(kind: "raw" | "ours", n: number): Promise<void> {
  const scans = seeded.slice(0, n);
  const server = spawnChild(kind === "raw" ? "bench/progress-raw-server.ts" : "bench/progress-server.ts", {
    DATABASE_URL: databaseUrl,
    JWT_SECRET: secret,
    // A fixed key: the database remembers the key that sealed its secrets (a fingerprint), and a
    // bench database outlives one run.
    ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
    PORT: "0",
    HOST: "127.0.0.1",
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    DATA_DIR: await mkdtemp(path.join(os.tmpdir(), "dg-bench-progress-data-")),
    SCAN_WORKERS: "0",
    CAPACITY_FORCE_LEVEL: "OK",
    DATABASE_POOL_SIZE: "20",
    REDIS_URL: "",
  }, process.env.BENCH_SERVER_NODE_FLAGS?.split(" ").filter(Boolean) ?? []);
  let clients: BenchChild | null = null;
  try {
    const ready = await server.waitFor(/bench server ready/, 120_000);
    const port = (JSON.parse(ready) as { port: number }).port;
    await server.rpc("scans", scans);
    await sleep(1000);
    const before = await server.rpc<{ rss: number; heapUsed: number }>("memory");
    const snapshotDir = kind === "ours" ? process.env.BENCH_HEAP_DIR : undefined;
    if (snapshotDir) await server.rpc("heapSnapshot", path.join(snapshotDir, `before-${n}.heapsnapshot`));

    clients = spawnChild("bench/progress-clients.ts", {});
    await clients.waitFor(/clients ready/, 60_000);
    const creds = scans.map((s, i) => ({ scanId: s.id, token: tokens[i] }));
    // Two halves: the second half's growth is the per-connection cost, free of start-up noise
    // (first-use compilation, pools, heap sizing) that the first connections also pay.
    const half = Math.floor(n / 2);
    const connect = (part: typeof creds) =>
      clients!.rpc<{ connected: number; failed: number; firstErrors: string[]; ms: number }>("connect", {
        url: `ws://127.0.0.1:${port}/graphql`,
        mode: kind === "raw" ? "raw" : "graphql",
        creds: part,
        concurrency: 64,
      });
    const c1 = await connect(creds.slice(0, half));
    await sleep(2000);
    const middle = await server.rpc<{ rss: number; heapUsed: number }>("memory");
    const c2 = await connect(creds.slice(half));
    const conn = { connected: c2.connected, failed: c1.failed + c2.failed, firstErrors: [...c1.firstErrors, ...c2.firstErrors], ms: c1.ms + c2.ms };
    if (conn.failed > 0) console.log(`  ${kind} n=${n}: ${conn.failed} connections failed: ${conn.firstErrors.join("; ")}`);
    const counts = await server.rpc<{ clients: number; subscriptions: number }>("counts");
    await sleep(2000);
    const after = await server.rpc<{ rss: number; heapUsed: number }>("memory");
    if (snapshotDir) await server.rpc("heapSnapshot", path.join(snapshotDir, `after-${n}.heapsnapshot`));
    const profileDir = kind === "ours" ? process.env.BENCH_PROFILE_DIR : undefined;
    if (profileDir) await server.rpc("profileStart");
    const idle = await server.rpc<{ cpuUs: number; wallMs: number }>("idle", 3000);
    if (profileDir) console.log(`  profile (idle): ${await server.rpc("profileStop", path.join(profileDir, `idle-${n}.cpuprofile`))}`);
    const idleUsPerMs = idle.cpuUs / idle.wallMs;

    // Fixed rate.
    await clients.rpc("reset");
    if (profileDir) await server.rpc("profileStart");
    const rate = await server.rpc<Loop>("rate", { hz: HZ, seconds: SECONDS });
    if (profileDir) console.log(`  profile (rate): ${await server.rpc("profileStop", path.join(profileDir, `rate-${n}.cpuprofile`))}`);
    await sleep(2000);
    const rr = await clients.rpc<Report>("report");
    const rateDelivered = rr.received;

    // Saturation.
    await clients.rpc("reset");
    if (profileDir) await server.rpc("profileStart");
    const sat = await server.rpc<Loop>("max", { seconds: MAX_SECONDS });
    if (profileDir) console.log(`  profile (saturation): ${await server.rpc("profileStop", path.join(profileDir, `sat-${n}.cpuprofile`))}`);
    const satReport = await clients.rpc<Report>("report"); // deliveries within the window (more may be in flight)
    await sleep(2000);

    const row: Row = {
      kind,
      n,
      connectMs: conn.ms,
      memPerConnKB: (after.rss - middle.rss) / (n - half) / 1024,
      heapPerConnKB: (after.heapUsed - middle.heapUsed) / (n - half) / 1024,
      memPerConnAllKB: (after.rss - before.rss) / n / 1024,
      rate: {
        deliveriesPerSec: rateDelivered / (rate.bursts / HZ),
        p50: rr.p50,
        p99: rr.p99,
        max: rr.max,
        missing: rate.published - rateDelivered,
        cpuUsPerDelivery: rate.cpuUs / rateDelivered,
        netCpuUsPerDelivery: (rate.cpuUs - idleUsPerMs * rate.wallMs) / rateDelivered,
        maxBehindMs: rate.maxBehindMs,
      },
      sat: {
        deliveriesPerSec: satReport.received / (sat.wallMs / 1000),
        cpuUsPerDelivery: sat.cpuUs / satReport.received,
        published: sat.published,
        received: satReport.received,
      },
      load: load(),
    };
    rows.push(row);
    console.log(
      `  ${kind.padEnd(4)} n=${n}: connected ${conn.connected}/${n} (server sees ${counts.clients} sockets, ${counts.subscriptions} subs) in ${fmt(conn.ms / 1000)} s; ` +
        `rss ${fmt(before.rss / MB)} -> ${fmt(middle.rss / MB)} (n/2) -> ${fmt(after.rss / MB)} MB: second half ${fmt(row.memPerConnKB)} KB/conn (heap ${fmt(row.heapPerConnKB)} KB/conn), all ${fmt(row.memPerConnAllKB)} KB/conn; idle cpu ${fmt(idleUsPerMs * 1000 / 1000, 0)} ms/s\n` +
        `        rate ${HZ}/s: published ${rate.published}, received ${rateDelivered} (missing ${row.rate.missing}, gaps ${rr.gaps}, reordered ${rr.reordered}), ` +
        `${fmt(row.rate.deliveriesPerSec, 0)}/s, p50 ${fmt(rr.p50)} ms p90 ${fmt(rr.p90)} p99 ${fmt(rr.p99)} max ${fmt(rr.max)}, cpu ${fmt(row.rate.cpuUsPerDelivery)} us/delivery (net ${fmt(row.rate.netCpuUsPerDelivery)}), publisher behind ≤ ${fmt(rate.maxBehindMs, 0)} ms\n` +
        `        saturation: ${sat.bursts} bursts, published ${sat.published}, received ${satReport.received} in window -> ${fmt(row.sat.deliveriesPerSec, 0)}/s, cpu ${fmt(row.sat.cpuUsPerDelivery)} us/delivery; load ${row.load}`,
    );

    if (kind === "ours" && n === MAX_N && WITH_STORM) {
      const observer = await signToken(secret, { sub: "bench-progress-observer", expiresIn: "1h" });
      const probe = startProbe(`http://127.0.0.1:${port}/graphql`, observer);
      if (profileDir) await server.rpc("profileStart");
      const stormCpu0 = cpuMsOf(server.pid);
      const stormCpu0Clients = cpuMsOf(clients.pid);
      const storm = await clients.rpc<{ connected: number; failed: number; firstErrors: string[]; ms: number }>("storm", {
        url: `ws://127.0.0.1:${port}/graphql`,
        creds,
        spreadMs: STORM_SPREAD_MS,
      });
      const stormCpu = cpuMsOf(server.pid) - stormCpu0;
      const stormCpuClients = cpuMsOf(clients.pid) - stormCpu0Clients;
      const lat = await probe.stop();
      if (profileDir) console.log(`  profile (storm): ${await server.rpc("profileStop", path.join(profileDir, `storm-${n}.cpuprofile`))}`);
      stormSummary = [
        `reconnect storm (ours, n=${n}): every socket dropped, ${n} clients reconnect + resubscribe spread over ${STORM_SPREAD_MS} ms`,
        `  all served (first event of each) after ${fmt(storm.ms / 1000, 2)} s; connected ${storm.connected}, failed ${storm.failed}${storm.firstErrors.length ? ` (${storm.firstErrors.join("; ")})` : ""}; ` +
          `server CPU ${fmt(stormCpu / 1000, 2)} s (${fmt((stormCpu * 1000) / n, 0)} us per client), clients' CPU ${fmt(stormCpuClients / 1000, 2)} s`,
        `  another user's query ({ scans(first: 5) { totalCount } }) meanwhile: ${lat.count} requests, p50 ${fmt(lat.p50)} ms, p99 ${fmt(lat.p99)} ms, max ${fmt(lat.max)} ms, errors ${lat.errors} ${JSON.stringify(lat.codes)}`,
      ];
      for (const line of stormSummary) console.log(line);
    }
    if (kind === "ours" && n === MAX_N && WITH_FLOOD) {
      const observer = await signToken(secret, { sub: "bench-progress-observer", expiresIn: "1h" });
      const flooder = await signToken(secret, { sub: "bench-progress-flooder", expiresIn: "1h" });
      const probe = startProbe(`http://127.0.0.1:${port}/graphql`, observer);
      const flood = await clients.rpc<{ sockets: number; acked: number; closes: Record<string, number>; subsAccepted: number; subsRefused: number; settledMs: number }>("flood", {
        url: `ws://127.0.0.1:${port}/graphql`,
        token: flooder,
        sockets: 1000,
        subsPerSocket: 20,
        holdMs: 3000,
      });
      const lat = await probe.stop();
      floodSummary = [
        `one user floods (ours, beside ${n} subscribed clients): ${flood.sockets} sockets x 20 myScans subscriptions with one token`,
        `  accepted ${flood.acked} sockets, ${flood.subsAccepted} subscriptions (${flood.subsRefused} refused); closes by code ${JSON.stringify(flood.closes)}; settled in ${fmt(flood.settledMs / 1000, 2)} s`,
        `  another user's query meanwhile: ${lat.count} requests, p50 ${fmt(lat.p50)} ms, p99 ${fmt(lat.p99)} ms, max ${fmt(lat.max)} ms, errors ${lat.errors} ${JSON.stringify(lat.codes)}`,
      ];
      for (const line of floodSummary) console.log(line);
    }
    if (kind === "ours" && n === MAX_N && WITH_OVERLOAD) {
      await overload(server, clients, port, n, row.sat.deliveriesPerSec);
    }
  } finally {
    await clients?.rpc("close").catch(() => undefined);
    await clients?.kill();
    await Promise.race([server.rpc("stop").catch(() => undefined), sleep(15_000)]);
    await server.kill();
  }
}

async function overload(server: BenchChild, clients: BenchChild, port: number, n: number, sustainedPerSec: number): Promise<void> {
  const pausedCount = Math.round(n * PAUSED);
  const hz = (OVERLOAD_FACTOR * sustainedPerSec) / n;
  const base = `http://127.0.0.1:${port}`;
  await clients.rpc("pause", { count: pausedCount });
  await clients.rpc("reset");
  const metricsBefore = (await getMs(`${base}/metrics`, 10_000)).body;
  const rss0 = rssOf(server.pid);
  const samples: Array<{ t: number; rss: number; healthMs: number; ok: boolean }> = [];
  let sampling = true;
  const t0 = performance.now();
  const sampler = (async () => {
    while (sampling) {
      const tick = performance.now();
      const h = await getMs(`${base}/healthz`, 5_000);
      samples.push({ t: (tick - t0) / 1000, rss: rssOf(server.pid), healthMs: h.ms, ok: h.ok });
      await sleep(Math.max(0, 1000 - (performance.now() - tick)));
    }
  })();
  const loop = await server.rpc<Loop>("rate", { hz, seconds: OVERLOAD_SECONDS });
  await sleep(3000); // what is in flight lands; the rss samples keep going
  sampling = false;
  await sampler;
  const rep = await clients.rpc<Report>("report");
  const metricsAfter = (await getMs(`${base}/metrics`, 10_000)).body;
  const slow = (metric(metricsAfter, "dg_ws_slow_clients_closed_total").total ?? 0) - (metric(metricsBefore, "dg_ws_slow_clients_closed_total").total ?? 0);
  const closes = metric(metricsAfter, "dg_ws_closed_total");
  const rssMax = Math.max(...samples.map((s) => s.rss));
  const health = samples.map((s) => s.healthMs).sort((a, b) => a - b);
  const slowHealth = samples.filter((s) => !s.ok || s.healthMs > 100).length;
  overloadSummary = [
    `overload (ours, n=${n}): ${OVERLOAD_FACTOR}x the saturation rate = ${fmt(hz, 2)} events/s per scan (${fmt(hz * n, 0)}/s offered) for ${OVERLOAD_SECONDS} s, ${pausedCount} clients paused`,
    `  published ${loop.published} in ${fmt(loop.wallMs / 1000)} s (publisher behind ≤ ${fmt(loop.maxBehindMs, 0)} ms, server cpu ${fmt(loop.cpuUs / loop.wallMs / 10, 0)}%); healthy clients received ${rep.receivedHealthy} (${fmt(rep.receivedHealthy / (loop.wallMs / 1000), 0)}/s; coalesced away ${loop.published - rep.received}), min per healthy client ${rep.minPerHealthyClient}, p50 ${fmt(rep.p50)} ms p99 ${fmt(rep.p99)} ms`,
    `  server RSS ${fmt(rss0 / MB)} MB -> max ${fmt(rssMax / MB)} MB (growth ${fmt((rssMax - rss0) / MB)} MB), end ${fmt(samples.at(-1)!.rss / MB)} MB`,
    `  /healthz: p50 ${fmt(health[Math.floor(health.length / 2)]!)} ms, max ${fmt(health.at(-1)!)} ms, ${slowHealth}/${samples.length} samples over 100 ms or failed`,
    `  slow clients closed: ${slow} (of ${pausedCount} paused); client-side closes ${JSON.stringify(rep.closed)}; server close codes ${JSON.stringify(closes)}`,
    `  rss/healthz per second: ${samples.map((s) => `${fmt(s.rss / MB, 0)}/${fmt(s.healthMs, 0)}${s.ok ? "" : "!"}`).join(" ")}`,
  ];
  for (const line of overloadSummary) console.log(line);
}

try {
  for (const n of NS) {
    if (WITH_RAW) await runOne("raw", n);
    await runOne("ours", n);
  }
} finally {
  await stopDb();
}

// ---- table ---------------------------------------------------------------------------------------
console.log(`\nbench/progress results (load ${load()}; ${HZ} event/s per scan, ${SECONDS} s; aims: cpu <= 2x raw, p99 < 200 ms at 5,000, < 20 KB/conn)`);
console.log("| N | server | deliveries/s (fixed rate) | missing | p50 ms | p99 ms | CPU us/delivery (net) | saturation deliveries/s | sat. CPU us/delivery | KB/idle conn (RSS, 2nd half) | KB heap/conn | KB/conn (RSS, all) |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.n} | ${r.kind} | ${fmt(r.rate.deliveriesPerSec, 0)} | ${r.rate.missing} | ${fmt(r.rate.p50)} | ${fmt(r.rate.p99)} | ${fmt(r.rate.cpuUsPerDelivery)} (${fmt(r.rate.netCpuUsPerDelivery)}) | ${fmt(r.sat.deliveriesPerSec, 0)} | ${fmt(r.sat.cpuUsPerDelivery)} | ${fmt(r.memPerConnKB)} | ${fmt(r.heapPerConnKB)} | ${fmt(r.memPerConnAllKB)} |`,
  );
}
for (const n of NS) {
  const raw = rows.find((r) => r.n === n && r.kind === "raw");
  const ours = rows.find((r) => r.n === n && r.kind === "ours");
  if (!raw || !ours) continue;
  console.log(
    `| ${n} | ours/raw | ${fmt(ours.rate.deliveriesPerSec / raw.rate.deliveriesPerSec, 2)}x | | ${fmt(ours.rate.p50 / raw.rate.p50, 2)}x | ${fmt(ours.rate.p99 / raw.rate.p99, 2)}x | ${fmt(ours.rate.cpuUsPerDelivery / raw.rate.cpuUsPerDelivery, 2)}x (${fmt(ours.rate.netCpuUsPerDelivery / raw.rate.netCpuUsPerDelivery, 2)}x) | ${fmt(ours.sat.deliveriesPerSec / raw.sat.deliveriesPerSec, 2)}x | ${fmt(ours.sat.cpuUsPerDelivery / raw.sat.cpuUsPerDelivery, 2)}x | ${fmt(ours.memPerConnKB / raw.memPerConnKB, 2)}x | ${fmt(ours.heapPerConnKB / raw.heapPerConnKB, 2)}x | |`,
  );
}
for (const summary of [stormSummary, floodSummary, overloadSummary]) if (summary.length) console.log(`\n${summary.join("\n")}`);
process.exit(0);
