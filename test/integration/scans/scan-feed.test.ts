import "reflect-metadata";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScanFeedRepo } from "../../../src/modules/scans/scan-feed.repo.js";
import { ScanFeed } from "../../../src/modules/scans/scan-feed.service.js";
import type { ScanProgress } from "../../../src/modules/scans/scan.type.js";
import { ActivityTracker } from "../../../src/modules/viewer/activity.service.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { MemoryPubSub } from "../../../src/platform/pubsub/memory.pubsub.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";

/**
 * The live feeds against real PostgreSQL (issue 11): what a subscriber gets first with and
 * without `since`, owner isolation, and one statement shared by subscriptions that start together.
 */
let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
const ids: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.url, max: 5, log: silentLogger });
  prisma = createPrisma(pool);
  await prisma.user.createMany({ data: [{ id: "alice" }, { id: "bob" }] });
  const day = new Date(Date.now() + 86_400_000);
  const a = await prisma.session.create({ data: { ownerId: "alice", expiresAt: day } });
  const b = await prisma.session.create({ data: { ownerId: "bob", expiresAt: day } });
  const scan = (ownerId: string, sessionId: string, status: string, finishedAt: Date | null) =>
    prisma.scan.create({ data: { ownerId, sessionId, kind: "DOCUMENT", status: status as never, finishedAt, seq: 3 } });
  ids.aliceRunning = (await scan("alice", a.id, "RUNNING", null)).id;
  ids.aliceEndedNow = (await scan("alice", a.id, "FAILED", new Date())).id;
  ids.aliceEndedLongAgo = (await scan("alice", a.id, "SUCCEEDED", new Date(Date.now() - 3_600_000))).id;
  ids.bobEndedNow = (await scan("bob", b.id, "SUCCEEDED", new Date())).id;
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});

/** Everything the stream holds right after opening (its first events), without waiting. */
async function firstEvents(stream: AsyncIterableIterator<ScanProgress>, count: number): Promise<ScanProgress[]> {
  const out: ScanProgress[] = [];
  for (let i = 0; i < count; i++) out.push((await stream.next()).value as ScanProgress);
  return out;
}

function countingRepo() {
  const repo = new ScanFeedRepo(prisma);
  const calls = { changedSince: 0, current: 0 };
  return {
    calls,
    repo: new Proxy(repo, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key === "changedSince" || key === "current") {
          return (...args: unknown[]) => {
            calls[key]++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value;
      },
    }),
  };
}

describe("ScanFeed.myScans", () => {
  it("without since: the active scans only; with since: also every scan that ended since then, oldest first, never another user's", async () => {
    const feed = new ScanFeed({ repo: new ScanFeedRepo(prisma), pubsub: new MemoryPubSub() });
    const plain = await feed.myScans("alice", null);
    expect((await firstEvents(plain, 1)).map((e) => e.scanId)).toEqual([ids.aliceRunning]);
    expect(plain.backlog).toBe(0);
    await plain.return();

    const since = await feed.myScans("alice", new Date(Date.now() - 60_000));
    const got = await firstEvents(since, 2);
    expect(got.map((e) => e.scanId).sort()).toEqual([ids.aliceRunning, ids.aliceEndedNow].sort());
    expect(got.find((e) => e.scanId === ids.aliceEndedNow)).toMatchObject({ status: "FAILED", seq: 3 });
    expect(since.backlog).toBe(0); // not the scan that ended an hour ago, not bob's
    await since.return();
  });

  it("subscriptions that start together share one statement", async () => {
    const { repo, calls } = countingRepo();
    const feed = new ScanFeed({ repo: repo as ScanFeedRepo, pubsub: new MemoryPubSub() });
    const streams = await Promise.all(Array.from({ length: 50 }, (_, i) => feed.myScans(i % 2 ? "alice" : "bob", new Date(Date.now() - 60_000))));
    // At most two batches in flight at once: a burst of 50 costs one or two statements, not 50.
    expect(calls.changedSince).toBeLessThanOrEqual(2);
    const bobFirst = await firstEvents(streams[0]!, 1);
    expect(bobFirst[0]!.scanId).toBe(ids.bobEndedNow);
    await Promise.all(streams.map((s) => s.return()));
  });
});

describe("ScanFeed.scanProgress", () => {
  it("starts with the current state of a finished scan; another user's scan is NOT_FOUND; one statement for a burst", async () => {
    const { repo, calls } = countingRepo();
    const feed = new ScanFeed({ repo: repo as ScanFeedRepo, pubsub: new MemoryPubSub() });
    const streams = await Promise.all(Array.from({ length: 20 }, () => feed.scanProgress("alice", ids.aliceEndedNow!)));
    expect(calls.current).toBeLessThanOrEqual(2);
    const [first] = await firstEvents(streams[0]!, 1);
    expect(first).toMatchObject({ scanId: ids.aliceEndedNow, status: "FAILED" });
    expect((await streams[0]!.next()).done).toBe(true); // terminal: the stream completes
    await Promise.all(streams.map((s) => s.return()));
    await expect(feed.scanProgress("alice", ids.bobEndedNow!)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(feed.scanProgress("alice", "not-a-uuid")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("ActivityTracker", () => {
  it("writes the row of a user seen with a token once, in the batched flush (no write per request)", async () => {
    const activity = new ActivityTracker(prisma, silentLogger, { sessionTtlMs: 3_600_000, flushIntervalMs: 3_600_000 });
    activity.touchUser("carol", "ADMIN");
    activity.touchUser("alice");
    expect(await prisma.user.count({ where: { id: "carol" } })).toBe(0);
    await activity.flush();
    expect(await prisma.user.findUnique({ where: { id: "carol" } })).toMatchObject({ id: "carol", role: "ADMIN" });
  });
});
