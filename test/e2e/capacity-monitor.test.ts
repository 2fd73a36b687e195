/**
 * The capacity monitor in-process over real PostgreSQL: a pool saturated with pg_sleep, the
 * admission veto (forced CRITICAL, thresholds at 0, a failing monitor), history and pruning.
 * The transports are proven in capacity.test.ts with real server processes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { CapacityMonitor, type CapacitySettings } from "../../src/modules/capacity/capacity.service.js";
import { CapacityRepo } from "../../src/modules/capacity/capacity.repo.js";
import { monitorUnavailableReason } from "../../src/modules/scans/capacity.port.js";
import { defaultThresholds } from "../../src/modules/capacity/capacity.levels.js";
import { createPool, poolStats } from "../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../src/platform/db/prisma.js";
import { silentLogger } from "../../src/platform/observability/logger.js";
import { MemoryPubSub } from "../../src/platform/pubsub/memory.pubsub.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let db: TestDatabase;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await db?.drop();
});

const settings = (over: Partial<CapacitySettings> = {}): CapacitySettings => ({
  intervalMs: 1_000,
  retentionMs: 7 * 86_400_000,
  // high enough that the test machine's own load never trips them
  thresholds: defaultThresholds({ memory: [2, 2], cpu: [2, 2], pool: [0.8, 0.95], queueWait: [60, 300], eventLoopDelay: [10_000, 20_000] }),
  maxConcurrent: 8,
  maxPerUser: 3,
  maxQueued: 200,
  ...over,
});

function setup(options: { poolSize?: number; url?: string; settings?: Partial<CapacitySettings>; instanceId?: string } = {}): { monitor: CapacityMonitor; pool: pg.Pool; prisma: PrismaClient } {
  const pool = createPool({ connectionString: options.url ?? db.url, max: options.poolSize ?? 5, connectionTimeoutMillis: 5_000, log: silentLogger });
  const prisma = createPrisma(pool);
  const monitor = new CapacityMonitor({
    instanceId: options.instanceId ?? `test-${Math.random().toString(36).slice(2, 8)}`,
    repo: new CapacityRepo(prisma),
    pool,
    pubsub: new MemoryPubSub(),
    activity: { activeUsers: async () => 0 },
    log: silentLogger,
    settings: settings(options.settings),
  });
  cleanups.push(async () => {
    await monitor.close();
    await prisma.$disconnect();
    await pool.end();
  });
  return { monitor, pool, prisma };
}

describe("a saturated pool", () => {
  it("shows waiting > 0 and the pool recommendation", async () => {
    const { monitor, pool } = setup({ poolSize: 2 });
    await monitor.sampleNow();
    // Two connections held by slow queries, a third caller queued behind them.
    const sleeps = [1, 2, 3].map(() => pool.query("select pg_sleep(2.5)"));
    cleanups.push(() => Promise.allSettled(sleeps));
    await expect.poll(() => poolStats(pool), { timeout: 5_000 }).toMatchObject({ inUse: 2, waiting: 1 });

    const sample = await monitor.sampleNow();
    expect(sample.figures.pool).toMatchObject({ size: 2, inUse: 2 });
    expect(sample.figures.pool.waiting).toBeGreaterThan(0);
    const report = await monitor.report();
    expect(report.database.waiting).toBeGreaterThan(0);
    expect(report.instances[0]!.pool.waiting).toBeGreaterThan(0);
    const rec = report.recommendations.find((r) => r.metric === "pool.waiting");
    expect(rec?.message).toMatch(/^pool waiting for .* 2\/2 connections in use: raise DATABASE_POOL_SIZE or add an instance$/);
    // 2/2 in use is over the pool's critical threshold (95%)
    expect(report.alerts.find((a) => a.metric === "pool" && a.clearedAt === null)).toMatchObject({ level: "CRITICAL" });
    expect(report.level).toBe("CRITICAL");

    // The slow queries end: the pool recovers, and the alert is cleared (kept visible with clearedAt).
    await Promise.allSettled(sleeps);
    await new Promise((r) => setTimeout(r, 300)); // past the CPU window
    const after = await monitor.sampleNow();
    expect(after.complete).toBe(true);
    expect(after.figures.pool.waiting).toBe(0);
    await new Promise((r) => setTimeout(r, 1_050)); // the shared report expires
    const recovered = await monitor.report();
    expect(recovered.alerts.find((a) => a.metric === "pool")).toMatchObject({ level: "CRITICAL", clearedAt: expect.any(Date) });
    expect(recovered.level).toBe("OK");
    expect(recovered.recommendations.find((r) => r.metric === "pool.waiting")).toBeUndefined();
    expect(await monitor.admissionVerdict()).toEqual({ allowed: true });
  }, 20_000);
});

describe("admission verdict: protect without punishing (issue 10.6)", () => {
  it("admits while the level is below CRITICAL", async () => {
    const { monitor } = setup();
    await monitor.sampleNow();
    expect(await monitor.admissionVerdict()).toEqual({ allowed: true });
    expect(monitor.claimHold()).toBeNull();
  });

  it("at CAPACITY_FORCE_LEVEL=CRITICAL admits to wait for capacity, and workers hold", async () => {
    const { monitor } = setup({ settings: { forceLevel: "CRITICAL" } });
    const verdict = await monitor.admissionVerdict(); // no sample yet: takes one
    expect(verdict).toEqual({ allowed: true, waitsFor: "CAPACITY", reason: expect.stringMatching(/^capacity is CRITICAL on .+ \(level forced by CAPACITY_FORCE_LEVEL\)$/) });
    expect(monitor.claimHold()).toBe((verdict as { reason: string }).reason);
    const report = await monitor.report();
    expect(report.level).toBe("CRITICAL");
    expect(report.scans.capacityHold).toBe(monitor.claimHold());
  });

  it("at CPU, pool and event-loop CRITICAL (thresholds 0) admits to wait, naming the figures", async () => {
    const zero: [number, number] = [0, 0];
    const { monitor } = setup({ settings: { thresholds: defaultThresholds({ memory: [2, 2], cpu: zero, pool: zero, queueWait: zero, eventLoopDelay: zero }) } });
    await monitor.sampleNow();
    const verdict = await monitor.admissionVerdict();
    expect(verdict).toMatchObject({ allowed: true, waitsFor: "CAPACITY" });
    expect((verdict as { reason: string }).reason).toMatch(/^capacity is CRITICAL on .+ \(machine CPU, database pool in use, event-loop delay p99\)$/);
  });

  it("refuses at critical memory with one sentence", async () => {
    const zero: [number, number] = [0, 0];
    const { monitor } = setup({ settings: { thresholds: defaultThresholds({ memory: zero, cpu: zero, pool: zero, queueWait: zero, eventLoopDelay: zero }) } });
    await monitor.sampleNow();
    const verdict = await monitor.admissionVerdict();
    expect(verdict).toMatchObject({ allowed: false, retryAfterSeconds: 30 });
    expect((verdict as { reason: string }).reason).toMatch(/^Memory on .+ is at [\d.]+% \(critical from 0%\), so new scans are refused; retry in 30 s\.$/);
  });

  it("refuses when the monitor cannot sample (database unreachable)", async () => {
    const { monitor } = setup({ url: "postgresql://nobody@127.0.0.1:1/none", settings: { intervalMs: 200 } });
    const started = Date.now();
    expect(await monitor.admissionVerdict()).toEqual({ allowed: false, retryAfterSeconds: 30, reason: monitorUnavailableReason(30) });
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it("refuses when the last sample is stale and resampling fails", async () => {
    const { monitor, pool } = setup({ settings: { intervalMs: 200 } });
    await monitor.sampleNow();
    expect(await monitor.admissionVerdict()).toEqual({ allowed: true });
    await pool.end(); // the monitor's database goes away
    await new Promise((r) => setTimeout(r, 700)); // older than 3 intervals
    expect(await monitor.admissionVerdict()).toMatchObject({ allowed: false, reason: monitorUnavailableReason(30) });
  });

  it("answers from the latest sample without touching the database", async () => {
    const { monitor, pool } = setup({ settings: { intervalMs: 60_000 } });
    await monitor.sampleNow();
    const spy = pool.query.bind(pool);
    let queries = 0;
    (pool as unknown as { query: typeof pool.query }).query = ((...a: Parameters<typeof pool.query>) => {
      queries++;
      return spy(...a);
    }) as typeof pool.query;
    for (let i = 0; i < 1000; i++) {
      await monitor.admissionVerdict();
      monitor.claimHold();
    }
    expect(queries).toBe(0);
  });

  it("one instance's CRITICAL holds another's scans through PostgreSQL alone, and clears when it leaves", async () => {
    // Two monitors, each with its own in-memory pub/sub: only the stored samples connect them.
    const critical = setup({ instanceId: "inst-critical", settings: { intervalMs: 300, forceLevel: "CRITICAL" } });
    const calm = setup({ instanceId: "inst-calm", settings: { intervalMs: 300 } });
    await calm.monitor.sampleNow();
    expect(calm.monitor.claimHold()).toBeNull();
    await critical.monitor.sampleNow();
    await calm.monitor.sampleNow();
    expect(calm.monitor.claimHold()).toMatch(/^capacity is CRITICAL on .+ \(level forced by CAPACITY_FORCE_LEVEL\)$/);
    expect(await calm.monitor.admissionVerdict()).toMatchObject({ allowed: true, waitsFor: "CAPACITY" });
    const report = await calm.monitor.report();
    expect(report.level).toBe("CRITICAL");
    expect(report.instances.find((i) => i.id === "inst-critical")?.level).toBe("CRITICAL");
    expect(report.alerts).toContainEqual(expect.objectContaining({ metric: "override", instanceId: "inst-critical", clearedAt: null }));

    // The CRITICAL instance stops sampling: once its heartbeat is older than 3 intervals it no
    // longer counts, and the calm one admits and claims again.
    await critical.monitor.close();
    await expect
      .poll(async () => (await calm.monitor.sampleNow(), calm.monitor.claimHold()), { timeout: 10_000, interval: 100 })
      .toBeNull();
    expect(await calm.monitor.admissionVerdict()).toEqual({ allowed: true });
  });

  it("a 1.5 s event-loop stall the server absorbs does not flip the level (judged over a minute)", async () => {
    const { monitor } = setup({ settings: { thresholds: defaultThresholds({ memory: [2, 2], cpu: [2, 2], pool: [2, 2], queueWait: [60, 300], eventLoopDelay: [200, 1000] }) } });
    await monitor.sampleNow();
    const until = Date.now() + 1_500;
    while (Date.now() < until); // the stall: the loop is blocked
    await new Promise((r) => setTimeout(r, 100));
    const sample = await monitor.sampleNow();
    expect(sample.host.eventLoopDelayMs).toBeGreaterThanOrEqual(1_000); // this interval alone would be CRITICAL
    expect(sample.figures.eventLoopDelayMs).toBeLessThan(200); // the minute's mean is not even WARNING
    expect((await monitor.report()).level).toBe("OK");
    expect(await monitor.admissionVerdict()).toEqual({ allowed: true });
  });
});

describe("history and retention", () => {
  it("buckets samples of several instances into at most ~120 points", async () => {
    const { monitor, prisma } = setup();
    // 2 instances, one sample every 5 s over the last 2 hours
    await prisma.$executeRaw`
      INSERT INTO "CapacitySample" ("instanceId", at, cpu, "processCpu", "memoryUsed", "rssBytes", "eventLoopDelayMs",
        "poolSize", "poolInUse", "poolIdle", "poolWaiting", "wsClients", subscriptions, "runningScans", "queuedScans", "activeUsers")
      SELECT i, now() - g * interval '5 seconds', CASE WHEN i = 'a' THEN 0.2 ELSE 0.6 END, 0.01, 0.5, 1, 1,
        10, CASE WHEN i = 'a' THEN 3 ELSE 4 END, 1, 0, 0, 0, 2, 5, 7
      FROM generate_series(0, 1439) g, unnest(ARRAY['a', 'b']) i`;
    const hour = await monitor.history(60);
    expect(hour.length).toBeGreaterThan(100);
    expect(hour.length).toBeLessThanOrEqual(121);
    const mid = hour[Math.floor(hour.length / 2)]!;
    expect(mid).toMatchObject({ cpu: 0.6, memoryUsed: 0.5, poolInUse: 7, runningScans: 2, queuedScans: 5, activeUsers: 7, instances: 2 });
    const week = await monitor.history(10_080);
    expect(week.length).toBeLessThanOrEqual(121);
    const minute = await monitor.history(1);
    expect(minute.length).toBeGreaterThanOrEqual(12); // 1 s buckets, 5 s apart
    expect(minute.length).toBeLessThanOrEqual(61);
  });

  it("prunes samples past the retention in bounded batches", async () => {
    const { monitor, prisma } = setup();
    await prisma.$executeRaw`
      INSERT INTO "CapacitySample" ("instanceId", at, cpu, "processCpu", "memoryUsed", "rssBytes", "eventLoopDelayMs",
        "poolSize", "poolInUse", "poolIdle", "poolWaiting", "wsClients", subscriptions, "runningScans", "queuedScans", "activeUsers")
      SELECT 'old', now() - interval '8 days' - g * interval '1 second', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
      FROM generate_series(1, 2500) g`;
    const before = await prisma.capacitySample.count();
    expect(await monitor.repo.prune(7 * 86_400_000, 1000, 2)).toBe(2000);
    expect(await monitor.repo.prune(7 * 86_400_000, 1000, 2)).toBe(500);
    expect(await prisma.capacitySample.count()).toBe(before - 2500);
  });
});

describe("instances", () => {
  it("reports every live instance and drops silent ones", async () => {
    const a = setup({ instanceId: "inst-a", settings: { intervalMs: 300 } });
    const b = setup({ instanceId: "inst-b", settings: { intervalMs: 300 } });
    await a.monitor.sampleNow();
    await b.monitor.sampleNow();
    const report = await a.monitor.report();
    expect(report.instances.map((i) => i.id).sort()).toEqual(expect.arrayContaining(["inst-a", "inst-b"]));
    expect(report.instances.find((i) => i.id === "inst-b")).toMatchObject({ pid: process.pid, kind: "api" });
    // a keeps sampling, b falls silent: once b is more than 3 intervals old (and the shared
    // report has expired) it is gone from a's report, and a is still in it.
    const ids = async () => {
      await a.monitor.sampleNow();
      return (await a.monitor.report()).instances.map((i) => i.id);
    };
    await expect.poll(ids, { timeout: 15_000, interval: 200 }).not.toContain("inst-b");
    expect(await ids()).toContain("inst-a");
  });
});
