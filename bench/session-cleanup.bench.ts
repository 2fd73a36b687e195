/**
 * Session-expiry cleanup cost: seeds 10,000 expired sessions, each holding a connection, a
 * payment, a scan with two findings and one input (70,000 rows), and times the job
 * (500-session batches, FOR UPDATE SKIP LOCKED, children counted before each delete, one
 * CleanupRun row). Baseline beside it, on the same data: one bare
 * `DELETE FROM "Session" WHERE "expiresAt" <= now()` (no batching, no counts, no record).
 * Prints figures; asserts nothing.
 *
 *   node --import @swc-node/register/esm-register bench/session-cleanup.bench.ts [sessions]
 *   (DATABASE_URL=... to use a scratch database on a server instead of an embedded PostgreSQL;
 *    it must be a database you can throw away: the bench truncates the session tables)
 */
import "reflect-metadata";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SessionExpiryJob } from "../src/modules/sessions/session-expiry.job.js";
import { startEmbeddedPostgres } from "../src/platform/db/embedded.js";
import { applyMigrations } from "../src/platform/db/migrate.js";
import { createPool } from "../src/platform/db/pool.js";
import { createPrisma } from "../src/platform/db/prisma.js";
import { createLogger, silentLogger } from "../src/platform/observability/logger.js";
import { seedExpiredBulk } from "../test/integration/sessions/fixtures.js";

const N = Number(process.argv[2] ?? 10_000);
const ROWS_PER_SESSION = 7; // session, connection, payment, scan, 2 findings, 1 input
const ROUNDS = 3;
const log = createLogger({ level: "warn", name: "bench" });

let url = process.env.DATABASE_URL;
let stopDb: () => Promise<unknown> = async () => undefined;
if (!url) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "dg-bench-cleanup-"));
  // Durable settings (fsync on), like a real deployment's disk: the delete's WAL is part of the cost.
  const pg = await startEmbeddedPostgres({ dataDir: dir, log, database: "bench" });
  url = pg.connectionString;
  stopDb = async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
await applyMigrations(url, silentLogger);
const pool = createPool({ connectionString: url, max: 10, log: silentLogger });
const prisma = createPrisma(pool);

const reset = () => prisma.$executeRaw`TRUNCATE "Session", "CleanupRun" CASCADE`;
async function seed(): Promise<void> {
  await reset();
  for (let done = 0; done < N; done += 2_000) await seedExpiredBulk(prisma, "bench-user", Math.min(2_000, N - done));
  await prisma.$executeRawUnsafe(`VACUUM ANALYZE`);
}

const job: number[] = [];
const baseline: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  await seed();
  let t = performance.now();
  const totals = await new SessionExpiryJob(prisma, silentLogger, { instanceId: "bench", sessionTtlMs: 60_000 }).runOnce();
  job.push(performance.now() - t);
  if (totals.sessions !== N || totals.findings !== 2 * N) throw new Error(`job deleted ${JSON.stringify(totals)}`);

  await seed();
  t = performance.now();
  const deleted = await prisma.$executeRaw`DELETE FROM "Session" WHERE "expiresAt" <= now()`;
  baseline.push(performance.now() - t);
  if (deleted !== N) throw new Error(`baseline deleted ${deleted}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const j = median(job);
const b = median(baseline);
const rows = N * ROWS_PER_SESSION;
console.log(`session cleanup, ${N} expired sessions = ${rows} rows, median of ${ROUNDS} rounds`);
console.log(`  job (batches of 500, counted, recorded): ${j.toFixed(0)} ms  = ${((j / rows) * 10_000).toFixed(0)} ms per 10,000 rows, ${((j / N) * 10_000).toFixed(0)} ms per 10,000 sessions`);
console.log(`  baseline (one bare DELETE):              ${b.toFixed(0)} ms  = ${((b / rows) * 10_000).toFixed(0)} ms per 10,000 rows`);
console.log(`  ratio job / baseline: ${(j / b).toFixed(2)}x   (rounds: job ${job.map((x) => x.toFixed(0)).join(", ")}; baseline ${baseline.map((x) => x.toFixed(0)).join(", ")})`);

await reset();
await prisma.$disconnect();
await pool.end();
await stopDb();
