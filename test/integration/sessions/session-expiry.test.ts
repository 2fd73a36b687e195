import type pg from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SessionExpiryJob } from "../../../src/modules/sessions/session-expiry.job.js";
import { SessionRepo } from "../../../src/modules/sessions/session.repo.js";
import { SessionService } from "../../../src/modules/sessions/session.service.js";
import { ActivityTracker } from "../../../src/modules/viewer/activity.service.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";
import { rowsFor, seedExpiredBulk, seedSession } from "./fixtures.js";

let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.url, max: 10, log: silentLogger });
  prisma = createPrisma(pool);
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});
beforeEach(async () => {
  await prisma.$executeRaw`TRUNCATE "Session", "CleanupRun" CASCADE`;
});

const past = () => new Date(Date.now() - 60_000);
const future = () => new Date(Date.now() + 3_600_000);
const job = (opts: Partial<ConstructorParameters<typeof SessionExpiryJob>[2]> = {}) =>
  new SessionExpiryJob(prisma, silentLogger, { instanceId: "test", sessionTtlMs: 1_000, ...opts });

describe("session expiry job", () => {
  it("deletes expired sessions with everything they hold, leaves fresh ones, records and counts it", async () => {
    const expired = [await seedSession(prisma, "alice", past(), "old-a"), await seedSession(prisma, "bob", past(), "old-b")];
    const fresh = [await seedSession(prisma, "alice", future(), "new-a"), await seedSession(prisma, "bob", future(), "new-b")];
    const freshBefore = await rowsFor(prisma, fresh.map((s) => s.id));
    const registry = new Registry();
    const hookCalls: Array<[string | null, string[]]> = [];
    const totals = await job({ registry, beforeDelete: async (o, ids) => void hookCalls.push([o, [...ids]]) }).runOnce();

    expect(totals).toMatchObject({ sessions: 2, scans: 4, findings: 4, scanInputs: 2, connections: 2, payments: 2, scansCancelled: 2 });
    expect(await rowsFor(prisma, expired.map((s) => s.id))).toEqual({ sessions: 0, scans: 0, findings: 0, scanInputs: 0, connections: 0, payments: 0 });
    expect(await rowsFor(prisma, fresh.map((s) => s.id))).toEqual(freshBefore);
    expect(freshBefore.sessions).toBe(2);
    // Running scans were handed to the hook before their sessions went.
    expect(hookCalls).toHaveLength(1);
    expect(hookCalls[0]![0]).toBeNull();
    expect(new Set(hookCalls[0]![1])).toEqual(new Set(expired.map((s) => s.id)));

    const runs = await prisma.cleanupRun.findMany();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      instanceId: "test", sessionsDeleted: 2, scansDeleted: 4, findingsDeleted: 4, inputsDeleted: 2, connectionsDeleted: 2, paymentsDeleted: 2, scansCancelled: 2,
    });
    expect(runs[0]!.finishedAt).not.toBeNull();
    const text = await registry.metrics();
    expect(text).toContain("dg_sessions_expired_total 2");
    expect(text).toContain('dg_cleanup_rows_deleted_total{kind="findings"} 4');
    expect(text).toContain('dg_cleanup_rows_deleted_total{kind="scan_inputs"} 2');

    // Nothing left: a second run deletes nothing and records no run.
    expect((await job().runOnce()).sessions).toBe(0);
    expect(await prisma.cleanupRun.count()).toBe(1);
  });

  it("expires a session SESSION_TTL after its last activity, not before (ttl 1 s, through the services)", async () => {
    const activity = new ActivityTracker(prisma, silentLogger, { sessionTtlMs: 1_000, flushIntervalMs: 50 });
    const sessions = new SessionService(new SessionRepo(prisma), activity, { sessionTtlMs: 1_000 });
    await prisma.user.createMany({ data: [{ id: "carol" }], skipDuplicates: true });
    const idle = await sessions.open("carol", { name: "idle" });
    const busy = await sessions.open("carol", { name: "busy" });
    expect(idle.expiresAt.getTime() - idle.lastActiveAt.getTime()).toBe(1_000);
    const expiry = job();
    // Touch the busy session and run the expiry job, again and again, until the idle one is gone:
    // no fixed steps against the TTL, so a slow machine changes how long this takes, not its verdict.
    // Each pass touches `busy` right before the job runs, so `busy` is never idle for a whole TTL.
    const idleExpires = idle.expiresAt.getTime();
    for (;;) {
      await sessions.requireOwned("carol", busy.id); // activity, throttled in memory
      await activity.flush();
      await expiry.runOnce();
      const finishedAt = Date.now();
      const idleLeft = await prisma.session.count({ where: { id: idle.id } });
      // Not before: a pass that ended before the idle session's expiry must have kept it.
      if (finishedAt < idleExpires) expect(idleLeft).toBe(1);
      if (idleLeft === 0) break;
      expect(finishedAt - idleExpires, "the idle session outlived its TTL by 10 s").toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 50)); // pace the passes; the outcome does not depend on it
    }
    expect(await sessions.get("carol", idle.id)).toBeNull();
    expect(await prisma.session.count({ where: { id: idle.id } })).toBe(0);
    const kept = await sessions.get("carol", busy.id);
    expect(kept).not.toBeNull();
    expect(kept!.lastActiveAt.getTime()).toBeGreaterThan(busy.lastActiveAt.getTime());
    await activity.stop();
  });

  it("two concurrent runs split the work: every session deleted once, counted once", async () => {
    await seedExpiredBulk(prisma, "dave", 1_200);
    const seen: string[] = [];
    const hook = async (_o: string | null, ids: string[]) => {
      seen.push(...ids);
      await new Promise((r) => setTimeout(r, 5)); // widen the window in which the batches overlap
    };
    const [a, b] = await Promise.all([
      job({ instanceId: "one", batchSize: 100, beforeDelete: hook }).runOnce(),
      job({ instanceId: "two", batchSize: 100, beforeDelete: hook }).runOnce(),
    ]);
    expect(a.sessions + b.sessions).toBe(1_200);
    expect(a.findings + b.findings).toBe(2_400);
    expect(a.sessions).toBeGreaterThan(0);
    expect(b.sessions).toBeGreaterThan(0);
    expect(seen).toHaveLength(1_200);
    expect(new Set(seen).size).toBe(1_200);
    const runs = await prisma.cleanupRun.findMany();
    expect(runs.reduce((n, r) => n + r.sessionsDeleted, 0)).toBe(1_200);
    expect(runs.reduce((n, r) => n + r.findingsDeleted, 0)).toBe(2_400);
    expect(await prisma.session.count()).toBe(0);
    expect(await prisma.finding.count()).toBe(0);
  });

  it("is safe to interrupt: a failed batch rolls back whole, committed batches stay recorded, the next run finishes", async () => {
    await seedExpiredBulk(prisma, "erin", 250);
    let calls = 0;
    const failing = job({
      batchSize: 100,
      beforeDelete: async () => {
        if (++calls === 2) throw new Error("crash in the middle");
      },
    });
    await expect(failing.runOnce()).rejects.toThrow("crash in the middle");
    expect(await prisma.session.count()).toBe(150);
    const [partial] = await prisma.cleanupRun.findMany();
    expect(partial).toMatchObject({ sessionsDeleted: 100, findingsDeleted: 200, finishedAt: null });
    expect(await prisma.finding.count()).toBe(300); // the rolled-back batch's children are all still there

    expect((await job({ batchSize: 100 }).runOnce()).sessions).toBe(150);
    expect(await prisma.session.count()).toBe(0);
    const runs = await prisma.cleanupRun.findMany();
    expect(runs.reduce((n, r) => n + r.sessionsDeleted, 0)).toBe(250);
  });

  it("start/stop: runs on its own at the interval and stops idempotently", async () => {
    await seedSession(prisma, "frank", past());
    const j = job({ intervalMs: 100 });
    j.start();
    const deadline = Date.now() + 5_000;
    while ((await prisma.session.count()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await prisma.session.count()).toBe(0);
    await Promise.all([j.stop(), j.stop()]);
  });
});
