import "reflect-metadata";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLoaders } from "../../../src/graphql/loaders.js";
import type { AppServices } from "../../../src/graphql/services.js";
import { SessionRepo } from "../../../src/modules/sessions/session.repo.js";
import { SessionService } from "../../../src/modules/sessions/session.service.js";
import { ActivityTracker } from "../../../src/modules/viewer/activity.service.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";
import { rowsFor, seedSession } from "./fixtures.js";

let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let activity: ActivityTracker;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.url, max: 5, log: silentLogger });
  prisma = createPrisma(pool);
  activity = new ActivityTracker(prisma, silentLogger, { sessionTtlMs: 3_600_000 });
  await prisma.user.createMany({ data: [{ id: "alice" }, { id: "bob" }] });
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});

describe("SessionService", () => {
  it("closeSession hands the session to the beforeDelete hook (running scans still there), then deletes everything", async () => {
    const seen: Array<{ ownerId: string | null; ids: string[]; runningAtCall: number }> = [];
    const sessions = new SessionService(new SessionRepo(prisma), activity, {
      sessionTtlMs: 3_600_000,
      beforeDelete: async (ownerId, ids) => {
        const runningAtCall = await prisma.scan.count({ where: { sessionId: { in: ids }, status: "RUNNING" } });
        seen.push({ ownerId, ids, runningAtCall });
      },
    });
    const s = await seedSession(prisma, "alice", new Date(Date.now() + 3_600_000));
    await expect(sessions.close("bob", s.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(seen).toEqual([]); // a foreign close never reaches the hook
    expect(await sessions.close("alice", s.id)).toBe(true);
    expect(seen).toEqual([{ ownerId: "alice", ids: [s.id], runningAtCall: 1 }]);
    expect(await rowsFor(prisma, [s.id])).toEqual({ sessions: 0, scans: 0, findings: 0, scanInputs: 0, connections: 0, payments: 0 });
  });

  it("the per-request sessions loader batches lookups and answers null for foreign, unknown and malformed ids", async () => {
    const sessions = new SessionService(new SessionRepo(prisma), activity, { sessionTtlMs: 3_600_000 });
    const mine = await sessions.open("alice", { name: "mine" });
    const theirs = await sessions.open("bob", { name: "theirs" });
    let queries = 0;
    const counting = { ...sessions, findManyOwned: (o: string, ids: readonly string[]) => (queries++, sessions.findManyOwned(o, ids)) };
    const services = { sessions: counting } as unknown as AppServices;
    const loaders = createLoaders(services, { id: "alice", role: "USER" } as never);
    const [a, b, c, d] = await Promise.all([
      loaders.sessions.load(mine.id),
      loaders.sessions.load(theirs.id),
      loaders.sessions.load("00000000-0000-4000-8000-000000000000"),
      loaders.sessions.load("not-a-uuid"),
    ]);
    expect(queries).toBe(1);
    expect(a?.id).toBe(mine.id);
    expect([b, c, d]).toEqual([null, null, null]);
    const anonymous = createLoaders(services, null);
    expect(await anonymous.sessions.load(mine.id)).toBeNull();
  });

  it("an expired session is gone for reads before the cleanup job runs", async () => {
    const sessions = new SessionService(new SessionRepo(prisma), activity, { sessionTtlMs: 3_600_000 });
    const s = await seedSession(prisma, "bob", new Date(Date.now() - 1_000));
    expect(await sessions.get("bob", s.id)).toBeNull();
    await expect(sessions.requireOwned("bob", s.id)).rejects.toMatchObject({ code: "NOT_FOUND", extensions: { field: "sessionId" } });
    expect((await sessions.list("bob")).map((x) => x.id)).not.toContain(s.id);
  });
});
