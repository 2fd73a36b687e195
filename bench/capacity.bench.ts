/**
 * The capacity monitor's cost, beside baselines run in the same process on the same database:
 * - sampling: CPU ms of this process per sample (host figures, scan query, heartbeat + insert,
 *   live instances with their levels),
 * - the admission verdict and the claim hold, answered from memory (issue 10.6),
 *   and per minute at the default 5 s interval; baseline: a `select 1` round trip through Prisma;
 * - the `capacity` query executed through the schema (resolver + report + history(60)),
 *   uncached and cached, as ms per query and queries per second.
 * Seeds 10,000 scans and a day of samples from two instances. Prints figures; asserts nothing.
 *
 *   node --import @swc-node/register/esm-register bench/capacity.bench.ts
 *   (DATABASE_URL=... to use a server instead of an embedded PostgreSQL)
 */
import "reflect-metadata";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { graphql } from "graphql";
import { CapacityMonitor, capacitySettingsFrom } from "../src/modules/capacity/capacity.service.js";
import { CapacityRepo } from "../src/modules/capacity/capacity.repo.js";
import { loadConfig } from "../src/config/config.js";
import { buildAppSchema } from "../src/graphql/schema.js";
import { startEmbeddedPostgres } from "../src/platform/db/embedded.js";
import { applyMigrations } from "../src/platform/db/migrate.js";
import { createPool } from "../src/platform/db/pool.js";
import { createPrisma } from "../src/platform/db/prisma.js";
import { createLogger, silentLogger } from "../src/platform/observability/logger.js";
import { createMetrics } from "../src/platform/observability/metrics.js";
import { MemoryPubSub } from "../src/platform/pubsub/memory.pubsub.js";

const log = createLogger({ level: "warn", name: "bench" });
let url = process.env.DATABASE_URL;
let stopDb = async () => undefined as unknown;
if (!url) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "dg-bench-pg-"));
  const pg = await startEmbeddedPostgres({ dataDir: dir, log, ephemeral: true, database: "dg_bench" });
  url = pg.connectionString;
  stopDb = async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
await applyMigrations(url, log);
const pool = createPool({ connectionString: url, max: 50, log: silentLogger });
const prisma = createPrisma(pool);

// Seed: 10,000 scans (8 running, 40 queued, the rest finished over the last day) and a day of
// samples from two instances every 5 s (34,560 rows).
await prisma.$executeRaw`TRUNCATE "Scan", "Session", "User", "CapacitySample", "Instance" CASCADE`;
await prisma.$executeRaw`INSERT INTO "User" (id, role) VALUES ('bench', 'USER')`;
await prisma.$executeRaw`INSERT INTO "Session" (id, "ownerId", "expiresAt") VALUES ('00000000-0000-0000-0000-000000000001', 'bench', now() + interval '1 day')`;
await prisma.$executeRaw`
  INSERT INTO "Scan" (id, "ownerId", "sessionId", kind, status, "createdAt", "startedAt", "finishedAt")
  SELECT gen_random_uuid(), 'bench', '00000000-0000-0000-0000-000000000001',
    (ARRAY['DOCUMENT','CODE','DATABASE'])[1 + g % 3]::"ScanKind",
    CASE WHEN g <= 8 THEN 'RUNNING' WHEN g <= 48 THEN 'QUEUED' ELSE 'SUCCEEDED' END::"ScanStatus",
    now() - (g * 8) * interval '1 second',
    CASE WHEN g <= 8 THEN now() - g * interval '10 seconds' WHEN g <= 48 THEN NULL ELSE now() - (g * 8 - 3) * interval '1 second' END,
    CASE WHEN g <= 48 THEN NULL ELSE now() - (g * 8 - 3 - (g % 40)) * interval '1 second' END
  FROM generate_series(1, 10000) g`;
await prisma.$executeRaw`
  INSERT INTO "CapacitySample" ("instanceId", at, cpu, "processCpu", "memoryUsed", "rssBytes", "eventLoopDelayMs",
    "poolSize", "poolInUse", "poolIdle", "poolWaiting", "wsClients", subscriptions, "runningScans", "queuedScans", "activeUsers")
  SELECT i, now() - g * interval '5 seconds', random(), 0.01, 0.5, 1, 1, 50, 3, 2, 0, 10, 10, 8, 40, 30
  FROM generate_series(1, 17280) g, unnest(ARRAY['peer-1', 'peer-2']) i`;
await prisma.$executeRaw`ANALYZE`;

const config = loadConfig({ DATABASE_URL: url });
const monitor = new CapacityMonitor({
  instanceId: "bench-self",
  repo: new CapacityRepo(prisma),
  pool,
  pubsub: new MemoryPubSub(),
  activity: { activeUsers: () => prisma.user.count({ where: { lastSeenAt: { gte: new Date(Date.now() - 300_000) } } }) },
  metrics: createMetrics({ instanceId: "bench-self" }),
  log: silentLogger,
  settings: { ...capacitySettingsFrom(config), intervalMs: 60_000 },
});

function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}
async function measure(name: string, runs: number, fn: () => Promise<unknown>): Promise<{ cpuPer: number; wallPer: number }> {
  for (let i = 0; i < Math.min(20, runs); i++) await fn(); // warm-up
  const c = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  const wallPer = (performance.now() - t) / runs;
  const cpuPer = cpuMs(c) / runs;
  console.log(`${name.padEnd(44)} ${wallPer.toFixed(3).padStart(8)} ms wall  ${cpuPer.toFixed(3).padStart(8)} ms CPU  (${runs} runs)`);
  return { cpuPer, wallPer };
}

console.log(`\nnode ${process.version}, ${os.cpus().length} CPUs, PostgreSQL ${url.includes("dg_bench") ? "embedded" : "from DATABASE_URL"}\n`);
const floor = await measure("baseline: prisma select 1", 500, () => prisma.$queryRaw`select 1`);
const scanQ = await measure("scan figures query (10k scans)", 300, () => monitor.repo.scanFigures());
const sample = await measure("sampleNow (host + scans + users + insert + live)", 300, () => monitor.sampleNow());
const live = await measure("  of which: live instances with levels", 300, () => monitor.repo.liveInstances(15_000));
const verdict = await measure("admissionVerdict (from memory)", 5_000, () => monitor.admissionVerdict());
const hold = await measure("claimHold (from memory, before each claim)", 5_000, async () => monitor.claimHold());
console.log(
  `\nadmission and claim answer from memory: ${(verdict.wallPer * 1000).toFixed(1)} µs and ${(hold.wallPer * 1000).toFixed(1)} µs ` +
    `(${(verdict.wallPer / floor.wallPer).toFixed(3)}x and ${(hold.wallPer / floor.wallPer).toFixed(3)}x a select 1); ` +
    `the live-instances read added to each sample is ${(live.wallPer / floor.wallPer).toFixed(1)}x a select 1`,
);
const perMinute = sample.cpuPer * (60_000 / 5_000);
console.log(
  `\nsampling at the default 5 s: ${perMinute.toFixed(1)} ms CPU per minute of this process ` +
    `(${((perMinute / 60_000) * 100).toFixed(3)}% of one core); one sample = ${(sample.cpuPer / floor.cpuPer).toFixed(1)}x a select 1, ` +
    `scan query = ${(scanQ.wallPer / floor.wallPer).toFixed(1)}x its wall time\n`,
);

const schema = await buildAppSchema(new MemoryPubSub());
const contextValue = {
  user: { id: "root", role: "ADMIN" },
  requestId: "bench",
  transport: "http",
  services: { capacity: monitor },
  log: silentLogger,
};
const source = `{ capacity { level cpu memoryUsed activeUsers connectedClients scans { running queued durations { kind p95Seconds } }
  database { size inUse waiting } recommendations { severity message } alerts { level message }
  instances { id cpu database { inUse } } history(minutes: 60) { at cpu poolInUse } } }`;
const check = await graphql({ schema, source, contextValue });
if (check.errors) throw new Error(JSON.stringify(check.errors));
const uncached = await measure("capacity query, uncached report", 200, async () => {
  await monitor.sampleNow(); // a new sample invalidates the shared report
  return graphql({ schema, source, contextValue });
});
const onlySample = sample;
console.log(`${"  (minus the sample it forces)".padEnd(44)} ${(uncached.wallPer - onlySample.wallPer).toFixed(3).padStart(8)} ms wall`);
const cached = await measure("capacity query, report shared (within 1 s)", 500, () => graphql({ schema, source, contextValue }));
const historyOnly = await measure("history(60) alone (3 instances, 1 day stored)", 200, () => monitor.history(60));
const week = await measure("history(10080) alone", 20, () => monitor.history(10_080));
const perQuery = uncached.wallPer - onlySample.wallPer;
console.log(
  `\ncapacity query: ${perQuery.toFixed(2)} ms uncached (~${Math.round(1000 / perQuery)} queries/s one at a time), ` +
    `${cached.wallPer.toFixed(2)} ms when the report is shared (~${Math.round(1000 / cached.wallPer)}/s); history(60) ${historyOnly.wallPer.toFixed(2)} ms, history(7 days) ${week.wallPer.toFixed(1)} ms\n`,
);

await monitor.close();
await prisma.$disconnect();
await pool.end();
await stopDb();
