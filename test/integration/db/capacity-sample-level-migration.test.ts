/**
 * The capacity-sample level migration (issue 10, point 6) on a database that holds samples from
 * before it: the rows survive and read back through CapacityRepo with no level and no critical
 * metrics (judged from their figures), and new samples store the level an instance judged.
 */
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { CapacityRepo } from "../../../src/modules/capacity/capacity.repo.js";
import { applyMigrations } from "../../../src/platform/db/migrate.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma } from "../../../src/platform/db/prisma.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import type { TestDatabase } from "../../support/database.js";
import { databaseBefore } from "../../support/migrations.js";

const MIGRATION = "20261201092854_capacity_sample_level";
const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

it("keeps older samples (level NULL, no critical metrics) and stores levels afterwards", async () => {
  // The migrations before this one, as an older release had them.
  const db = await databaseBefore(MIGRATION);
  databases.push(db);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    expect((await client.query(`select 1 from information_schema.columns where table_name = 'CapacitySample' and column_name = 'level'`)).rowCount).toBe(0);
    await client.query(`insert into "Instance" (id, kind, hostname, pid) values ('old-1', 'api', 'host-old', 7)`);
    await client.query(
      `insert into "CapacitySample" ("instanceId", at, cpu, "processCpu", "memoryUsed", "rssBytes", "eventLoopDelayMs",
        "poolSize", "poolInUse", "poolIdle", "poolWaiting", "wsClients", subscriptions, "runningScans", "queuedScans", "activeUsers")
       values ('old-1', now(), 0.25, 0.05, 0.5, 123456789, 12.5, 10, 3, 2, 0, 4, 5, 1, 2, 3)`,
    );
  } finally {
    await client.end();
  }

  const { applied } = await applyMigrations(db.url, silentLogger);
  expect(applied).toContain(MIGRATION);

  const pool = createPool({ connectionString: db.url, max: 2, log: silentLogger });
  const prisma = createPrisma(pool);
  try {
    const repo = new CapacityRepo(prisma);
    const [old] = await repo.liveInstances(60_000);
    expect(old).toMatchObject({ id: "old-1", hostname: "host-old", pid: 7 });
    expect(old!.sample).toMatchObject({
      cpu: 0.25,
      memoryUsed: 0.5,
      rssBytes: 123456789,
      eventLoopDelayMs: 12.5,
      poolSize: 10,
      poolInUse: 3,
      wsClients: 4,
      queuedScans: 2,
      activeUsers: 3,
      level: null,
      criticalMetrics: [],
    });

    // A new sample stores the level and the critical metrics; the newest is the one read back.
    const figures = { cpu: 0.95, processCpu: 0.1, memoryUsed: 0.5, rssBytes: 1, eventLoopDelayMs: 1, poolSize: 10, poolInUse: 1, poolIdle: 1, poolWaiting: 0, wsClients: 0, subscriptions: 0, runningScans: 0, queuedScans: 0, activeUsers: 0 };
    await repo.record({ id: "old-1", kind: "api", hostname: "host-old", pid: 7 }, { ...figures, level: "CRITICAL", criticalMetrics: ["cpu", "override"] });
    const [now] = await repo.liveInstances(60_000);
    expect(now!.sample).toMatchObject({ cpu: 0.95, level: "CRITICAL", criticalMetrics: ["cpu", "override"] });
    expect(await prisma.capacitySample.count()).toBe(2);

    // An instance that leaves is gone from the live list at once; its samples stay for history.
    await repo.leave("old-1");
    expect(await repo.liveInstances(60_000)).toEqual([]);
    expect(await prisma.capacitySample.count()).toBe(2);
  } finally {
    await prisma.$disconnect();
    await pool.end();
  }
}, 120_000);
