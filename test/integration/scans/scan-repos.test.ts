/**
 * The two scan repositories on real PostgreSQL (issue 10 point 7): admission and claiming
 * under races, the worker-side guards (a scan cancelled or taken over is never written),
 * and the sweep of scans whose worker stopped heartbeating.
 */
import "reflect-metadata";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { createInputBox, openSealed } from "../../../src/modules/scans/input-box.js";
import { ScanOwnerRepo } from "../../../src/modules/scans/scan-owner.repo.js";
import { parseEncryptionKeys } from "../../../src/platform/crypto/secret-box.js";
import { ScanWorkerRepo } from "../../../src/modules/scans/scan-worker.repo.js";
import { ScanFeedRepo } from "../../../src/modules/scans/scan-feed.repo.js";
import { ScanKind, ScanStatus } from "../../../src/modules/scans/scan.type.js";
import { SCAN_SLOTS_LOCK } from "../../../src/modules/scans/scan.repo.js";
import { createPool } from "../../../src/platform/db/pool.js";
import { createPrisma, type PrismaClient } from "../../../src/platform/db/prisma.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";

let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let owners: ScanOwnerRepo;
let workers: ScanWorkerRepo;

const LIMITS = { perUser: 3, maxConcurrent: 8, maxQueued: 200 };

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.url, max: 20, log: silentLogger });
  prisma = createPrisma(pool);
  owners = new ScanOwnerRepo(prisma, pool);
  workers = new ScanWorkerRepo(prisma, pool);
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});

let n = 0;
async function newOwner(): Promise<{ ownerId: string; sessionId: string }> {
  const ownerId = `owner-${++n}-${Date.now().toString(36)}`;
  await prisma.user.create({ data: { id: ownerId } });
  const session = await prisma.session.create({ data: { ownerId, name: "s", expiresAt: new Date(Date.now() + 3_600_000) } });
  return { ownerId, sessionId: session.id };
}

/** Ends every active scan so each test starts with free slots. */
async function clearActive(): Promise<void> {
  await prisma.scan.updateMany({ where: { status: { in: ["QUEUED", "RUNNING"] } }, data: { status: "CANCELLED", workerId: null } });
}

const admitDoc = (o: { ownerId: string; sessionId: string }, limits = LIMITS, content = "jan@example.com") =>
  owners.admit({ ...o, kind: ScanKind.DOCUMENT, options: null, connectionId: null, inputs: [{ name: "a.txt", content: Buffer.from(content) }], limits });

describe("ScanOwnerRepo: admission", () => {
  it("ten concurrent admissions of one user: exactly MAX_SCANS_PER_USER get in", async () => {
    await clearActive();
    const o = await newOwner();
    const results = await Promise.all(Array.from({ length: 10 }, () => admitDoc(o)));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => !r.ok && r.reason === "USER_LIMIT")).toHaveLength(7);
    expect(await prisma.scan.count({ where: { ownerId: o.ownerId } })).toBe(3);
    expect(await prisma.scanInput.count({ where: { ownerId: o.ownerId } })).toBe(3);
  });

  it("concurrent admissions of many users race for the last queue places: the queue cap holds", async () => {
    await clearActive();
    const users = await Promise.all(Array.from({ length: 6 }, () => newOwner()));
    const limits = { perUser: 3, maxConcurrent: 1, maxQueued: 2 };
    const results = await Promise.all(users.map((u) => admitDoc(u, limits)));
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(results.filter((r) => !r.ok && r.reason === "QUEUE_FULL")).toHaveLength(4);
  });

  it("inputs are stored sealed (issue 12.6): neither the text nor the name's bytes readable in the row; the worker opens them", async () => {
    await clearActive();
    const o = await newOwner();
    const box = createInputBox(parseEncryptionKeys(`k1:${randomBytes(32).toString("base64")}`));
    const r = await owners.admit({
      ...o,
      kind: ScanKind.DOCUMENT,
      options: null,
      connectionId: null,
      inputs: [{ name: "a.txt", content: Buffer.from("BSN 123456782") }],
      limits: LIMITS,
      seal: box.seal,
    });
    if (!r.ok) throw new Error("not admitted");
    const { rows } = await pool.query<{ content: Buffer; keyId: string }>(`select content, "keyId" from "ScanInput" where "scanId" = $1`, [r.scan.id]);
    expect(rows[0]!.keyId).toBe("k1");
    expect(rows[0]!.content.includes(Buffer.from("123456782"))).toBe(false);
    const stored = await workers.loadInput(r.scan.id, 0);
    expect(Buffer.from(openSealed(box.keyFor({ ownerId: o.ownerId, scanId: r.scan.id, ordinal: 0 }, stored!.keyId!), stored!.content)).toString()).toBe("BSN 123456782");
  });

  it("a large input is written before the slot lock is taken, read back byte for byte in slices; a refusal rolls its inputs back", async () => {
    await clearActive();
    const o = await newOwner();
    const big = randomBytes(2 * 1024 * 1024 + 4099); // crosses two slice boundaries of loadInput
    // Another session holds the slot lock: the admission must get as far as waiting for it with
    // its inputs already written (a RowExclusiveLock on "ScanInput" held by the waiting backend).
    const holder = await pool.connect();
    let pending: ReturnType<typeof owners.admit> | null = null;
    try {
      await holder.query("SELECT pg_advisory_lock($1::bigint)", [SCAN_SLOTS_LOCK]);
      pending = owners.admit({
        ...o,
        kind: ScanKind.DOCUMENT,
        options: null,
        connectionId: null,
        inputs: [
          { name: "big.bin", content: big },
          { name: "small.txt", content: Buffer.from("jan@example.com") },
        ],
        limits: LIMITS,
      });
      let waiterHoldsInputs = false;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const { rows } = await pool.query<{ inputs: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_locks i WHERE i.pid = w.pid AND i.granted AND i.locktype = 'relation'
                            AND i.relation = '"ScanInput"'::regclass AND i.mode = 'RowExclusiveLock') AS inputs
           FROM pg_locks w WHERE w.locktype = 'advisory' AND w.objid = $1 AND NOT w.granted`,
          [SCAN_SLOTS_LOCK],
        );
        if (rows[0]) {
          waiterHoldsInputs = rows[0].inputs;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(waiterHoldsInputs).toBe(true);
    } finally {
      await holder.query("SELECT pg_advisory_unlock($1::bigint)", [SCAN_SLOTS_LOCK]).catch(() => undefined);
      holder.release();
    }
    const r = await pending!;
    if (!r.ok) throw new Error("not admitted");
    expect(r.scan.status).toBe(ScanStatus.QUEUED);
    expect(r.scan.itemsTotal).toBe(2);
    const first = await workers.loadInput(r.scan.id, 0);
    expect(first?.ownerId).toBe(o.ownerId);
    expect(first?.keyId).toBeNull();
    expect(Buffer.compare(Buffer.from(first!.content), big)).toBe(0);
    expect(Buffer.from((await workers.loadInput(r.scan.id, 1))!.content).toString()).toBe("jan@example.com");
    expect(await workers.loadInput(r.scan.id, 2)).toBeNull();
    // An owner id with a quote travels into the COPY as a literal; an empty input reads as empty.
    const quoted = { ownerId: `o'wner\\-${Date.now().toString(36)}`, sessionId: "" };
    await prisma.user.create({ data: { id: quoted.ownerId } });
    quoted.sessionId = (await prisma.session.create({ data: { ownerId: quoted.ownerId, name: "s", expiresAt: new Date(Date.now() + 3_600_000) } })).id;
    const empty = await owners.admit({ ...quoted, kind: ScanKind.DOCUMENT, options: null, connectionId: null, inputs: [{ name: "e.txt", content: Buffer.alloc(0) }, { name: "q.txt", content: Buffer.from("x'y") }], limits: LIMITS });
    if (!empty.ok) throw new Error("not admitted");
    expect((await workers.loadInput(empty.scan.id, 0))?.content.byteLength).toBe(0);
    expect(Buffer.from((await workers.loadInput(empty.scan.id, 1))!.content).toString()).toBe("x'y");
    // Refused (the owner is at a limit of 1): neither a scan nor its inputs remain.
    const refused = await owners.admit({
      ...o,
      kind: ScanKind.DOCUMENT,
      options: null,
      connectionId: null,
      inputs: [{ name: "big.bin", content: big }],
      limits: { ...LIMITS, perUser: 1 },
    });
    expect(refused).toEqual({ ok: false, reason: "USER_LIMIT", active: 1 });
    expect(await prisma.scan.count({ where: { ownerId: o.ownerId } })).toBe(1);
    expect(await prisma.scanInput.count({ where: { ownerId: o.ownerId } })).toBe(2);
  });

  it("reads and cancellation are owner-scoped: another user sees nothing and cancels nothing", async () => {
    await clearActive();
    const a = await newOwner();
    const b = await newOwner();
    const r = await admitDoc(a);
    if (!r.ok) throw new Error("not admitted");
    expect(await owners.findOwned(b.ownerId, r.scan.id)).toBeNull();
    expect(await owners.findManyOwned(b.ownerId, [r.scan.id])).toEqual([]);
    expect(await owners.cancelOwned(b.ownerId, r.scan.id)).toBeNull();
    expect((await owners.findOwned(a.ownerId, r.scan.id))?.status).toBe(ScanStatus.QUEUED);
    expect(await owners.findOwned(a.ownerId, "not-a-uuid")).toBeNull();
    const cancelled = await owners.cancelOwned(a.ownerId, r.scan.id);
    expect(cancelled?.previous).toBe(ScanStatus.QUEUED);
    expect(cancelled?.scan.status).toBe(ScanStatus.CANCELLED);
    expect(await prisma.scanInput.count({ where: { scanId: r.scan.id } })).toBe(0);
    // A finished scan comes back unchanged.
    expect((await owners.cancelOwned(a.ownerId, r.scan.id))?.previous).toBe(ScanStatus.CANCELLED);
  });
});

describe("ScanWorkerRepo: claim, guards, sweep", () => {
  const claimArgs = (scanId: string, workerId: string, maxConcurrent = 8) => ({ scanId, workerId, maxConcurrent, stallMs: 30_000, maxAttempts: 2 });

  it("two workers race for the last running slot: one claims, the other is told NO_SLOT", async () => {
    await clearActive();
    const a = await admitDoc(await newOwner());
    const b = await admitDoc(await newOwner());
    if (!a.ok || !b.ok) throw new Error("not admitted");
    const [x, y] = await Promise.all([workers.claim(claimArgs(a.scan.id, "w1", 1)), workers.claim(claimArgs(b.scan.id, "w2", 1))]);
    const outcomes = [x, y].map((c) => (c.claimed ? "claimed" : c.reason)).sort();
    expect(outcomes).toEqual(["NO_SLOT", "claimed"]);
    expect(await prisma.scan.count({ where: { status: "RUNNING" } })).toBe(1);
  });

  it("a RUNNING scan with a live heartbeat is not claimable; a stalled one is taken over and its old worker's writes are refused", async () => {
    await clearActive();
    const o = await newOwner();
    const r = await admitDoc(o);
    if (!r.ok) throw new Error("not admitted");
    expect((await workers.claim(claimArgs(r.scan.id, "old"))).claimed).toBe(true);
    expect(await workers.claim(claimArgs(r.scan.id, "new"))).toEqual({ claimed: false, reason: "NOT_CLAIMABLE" });
    await prisma.scan.update({ where: { id: r.scan.id }, data: { heartbeatAt: new Date(Date.now() - 60_000) } });
    const taken = await workers.claim(claimArgs(r.scan.id, "new"));
    expect(taken.claimed).toBe(true);
    expect(await workers.updateProgress(r.scan.id, "old", { progress: 0.5 })).toBeNull();
    expect(await workers.finish({ scanId: r.scan.id, workerId: "old", status: ScanStatus.SUCCEEDED, riskLevel: null })).toBeNull();
    const row = await prisma.scan.findUniqueOrThrow({ where: { id: r.scan.id } });
    expect(row).toMatchObject({ status: "RUNNING", workerId: "new", attempts: 2 });
    // Attempts exhausted: even a stalled scan is no longer claimable.
    await prisma.scan.update({ where: { id: r.scan.id }, data: { heartbeatAt: new Date(Date.now() - 60_000) } });
    expect(await workers.claim(claimArgs(r.scan.id, "third"))).toEqual({ claimed: false, reason: "NOT_CLAIMABLE" });
  });

  it("finish writes nothing for a scan cancelled meanwhile; for its own RUNNING scan it ends it once", async () => {
    await clearActive();
    const o = await newOwner();
    const a = await admitDoc(o);
    const b = await admitDoc(o);
    if (!a.ok || !b.ok) throw new Error("not admitted");
    await workers.claim(claimArgs(a.scan.id, "w"));
    await workers.claim(claimArgs(b.scan.id, "w"));
    await owners.cancelOwned(o.ownerId, a.scan.id);
    expect(await workers.finish({ scanId: a.scan.id, workerId: "w", status: ScanStatus.SUCCEEDED, riskLevel: null })).toBeNull();
    expect((await prisma.scan.findUniqueOrThrow({ where: { id: a.scan.id } })).status).toBe("CANCELLED");

    const done = await workers.finish({ scanId: b.scan.id, workerId: "w", status: ScanStatus.SUCCEEDED, riskLevel: null });
    expect(done?.status).toBe(ScanStatus.SUCCEEDED);
    expect(await prisma.scanInput.count({ where: { scanId: b.scan.id } })).toBe(0);
    // A second finish (a duplicate job) changes nothing.
    expect(await workers.finish({ scanId: b.scan.id, workerId: "w", status: ScanStatus.FAILED, riskLevel: null })).toBeNull();
    expect((await prisma.scan.findUniqueOrThrow({ where: { id: b.scan.id } })).status).toBe("SUCCEEDED");
  });

  it("writeFindings: batches merge repeats of (source, line, value), write nothing once the scan is cancelled; clearFindings only for the holder", async () => {
    await clearActive();
    const o = await newOwner();
    const r = await admitDoc(o);
    if (!r.ok) throw new Error("not admitted");
    await workers.claim(claimArgs(r.scan.id, "w"));
    const batch = (ordinals: number[], line: number) => ({
      ordinal: ordinals,
      type: ordinals.map(() => "EMAIL"),
      severity: ordinals.map(() => "MEDIUM"),
      confidence: ordinals.map(() => 0.9),
      maskedValue: ordinals.map(() => "j***@x.nl"),
      occurrences: ordinals.map(() => 1),
      valueHash: ordinals.map((i) => `h${i % 2}`),
      source: ordinals.map(() => "a.txt"),
      line: ordinals.map(() => line),
      table: ordinals.map(() => null),
      column: ordinals.map(() => null),
      matchRatio: ordinals.map(() => null),
    });
    expect(await workers.writeFindings(r.scan.id, "w", batch([0, 1], 1))).toEqual({ held: true, inserted: 2 });
    expect(await workers.writeFindings(r.scan.id, "w", batch([2, 3], 1))).toEqual({ held: true, inserted: 0 }); // same two values, same line
    expect(await workers.writeFindings(r.scan.id, "other", batch([4], 2))).toEqual({ held: false, inserted: 0 });
    const rows = await prisma.finding.findMany({ where: { scanId: r.scan.id }, orderBy: { ordinal: "asc" }, select: { ordinal: true, occurrences: true, ownerId: true } });
    expect(rows).toEqual([
      { ordinal: 0, occurrences: 2, ownerId: o.ownerId },
      { ordinal: 1, occurrences: 2, ownerId: o.ownerId },
    ]);
    // Array literals: any text survives the trip (quotes, backslashes, commas, braces, "NULL", empty, unicode).
    const tricky = ['a"b\\c,{x}', "NULL", "", "j***@x.nl ü 𝄞", "\\\\", '""'];
    const t = batch(tricky.map((_, i) => 100 + i), 9);
    t.maskedValue = tricky;
    t.valueHash = tricky.map((_, i) => `t${i}`);
    t.source = tricky.map(() => 'dir/"quoted" \\ name.txt');
    t.confidence = tricky.map((_, i) => i / 7);
    expect(await workers.writeFindings(r.scan.id, "w", t)).toEqual({ held: true, inserted: tricky.length });
    const back = await prisma.finding.findMany({ where: { scanId: r.scan.id, line: 9 }, orderBy: { ordinal: "asc" } });
    expect(back.map((f) => [f.maskedValue, f.source, f.confidence])).toEqual(tricky.map((m, i) => [m, 'dir/"quoted" \\ name.txt', i / 7]));
    await prisma.finding.deleteMany({ where: { scanId: r.scan.id, line: 9 } });
    expect(await workers.clearFindings(r.scan.id, "other")).toBe(0);
    expect(await workers.clearFindings(r.scan.id, "w")).toBe(2);
    await workers.writeFindings(r.scan.id, "w", batch([0], 1));
    await owners.cancelOwned(o.ownerId, r.scan.id);
    expect(await workers.writeFindings(r.scan.id, "w", batch([1], 5))).toEqual({ held: false, inserted: 0 });
    expect(await prisma.finding.count({ where: { scanId: r.scan.id } })).toBe(1);
  });

  it("the sweep requeues a stalled scan with attempts left and fails the one without (WORKER_LOST), each once", async () => {
    await clearActive();
    const o = await newOwner();
    const a = await admitDoc(o);
    const b = await admitDoc(o);
    const fresh = await admitDoc(o);
    if (!a.ok || !b.ok || !fresh.ok) throw new Error("not admitted");
    for (const s of [a, b, fresh]) await workers.claim(claimArgs(s.scan.id, "dead"));
    const old = new Date(Date.now() - 60_000);
    await prisma.scan.update({ where: { id: a.scan.id }, data: { heartbeatAt: old, attempts: 1 } });
    await prisma.scan.update({ where: { id: b.scan.id }, data: { heartbeatAt: old, attempts: 2 } });
    const [one, two] = await Promise.all([workers.sweepStalled(30_000, 2), workers.sweepStalled(30_000, 2)]);
    const requeued = [...one.requeued, ...two.requeued].map((s) => s.id);
    const failed = [...one.failed, ...two.failed];
    expect(requeued).toEqual([a.scan.id]);
    expect(failed.map((s) => s.id)).toEqual([b.scan.id]);
    expect(failed[0]).toMatchObject({ status: ScanStatus.FAILED, errorCode: "WORKER_LOST" });
    expect(await prisma.scanInput.count({ where: { scanId: b.scan.id } })).toBe(0);
    expect(await prisma.scanInput.count({ where: { scanId: a.scan.id } })).toBe(1);
    expect((await prisma.scan.findUniqueOrThrow({ where: { id: fresh.scan.id } })).status).toBe("RUNNING");
    expect(await workers.queuedIds()).toContain(a.scan.id);
  });
});

describe("one column list and one queue order for every raw statement", () => {
  const named = (o: { ownerId: string; sessionId: string }, name: string) =>
    owners.admit({ ...o, kind: ScanKind.DOCUMENT, name, options: null, connectionId: null, inputs: [{ name, content: Buffer.from("x") }], limits: LIMITS });
  const admitted = async (p: ReturnType<typeof named>) => {
    const r = await p;
    if (!r.ok) throw new Error("not admitted");
    return r;
  };
  /** What Prisma's select (SCAN_COLUMNS) reads for the scan now: the raw paths must return exactly this. */
  const viaSelect = async (ownerId: string, id: string) => (await owners.findOwned(ownerId, id))!;

  it("admission returns the scan as the select reads it, with its queue position from the same statement", async () => {
    await clearActive();
    const o = await newOwner();
    const p = await newOwner();
    const a = await admitted(named(o, "a.txt"));
    const b = await admitted(named(p, "b.txt"));
    const c = await admitted(named(o, "c.txt"));
    expect([a.position, b.position, c.position]).toEqual([1, 2, 3]);
    const positions = await owners.queuePositions([a.scan.id, b.scan.id, c.scan.id]);
    expect([a, b, c].map((r) => positions.get(r.scan.id))).toEqual([1, 2, 3]);
    expect(c.scan).toEqual(await viaSelect(o.ownerId, c.scan.id));
    expect(c.scan.name).toBe("c.txt");
  });

  it("queue moves, the sweep, session cancels and live feeds return the select's columns (name, skipped, findingsNotStored; nothing more)", async () => {
    await clearActive();
    const o = await newOwner();
    const first = await admitted(named(o, "first.txt"));
    const second = await admitted(named(o, "second.txt"));
    await prisma.scan.update({ where: { id: second.scan.id }, data: { findingsNotStored: 7, skipped: [{ name: "x", code: "TOO_LARGE", reason: "r" }] } });

    const moved = await owners.advanceQueue({ createdAt: first.scan.createdAt, id: first.scan.id });
    expect(moved).toEqual([{ scan: await viaSelect(o.ownerId, second.scan.id), position: 2 }]);

    const feed = new ScanFeedRepo(prisma);
    const [current] = await feed.current([{ ownerId: o.ownerId, scanId: second.scan.id }]);
    expect(current).toEqual({ scan: await viaSelect(o.ownerId, second.scan.id), position: 2 });
    const [changed] = await feed.changedSince([{ ownerId: o.ownerId, since: null }]);
    expect(changed).toEqual([
      { scan: await viaSelect(o.ownerId, first.scan.id), position: 1 },
      { scan: await viaSelect(o.ownerId, second.scan.id), position: 2 },
    ]);

    await prisma.scan.update({ where: { id: first.scan.id }, data: { status: "RUNNING", workerId: "w", heartbeatAt: new Date(Date.now() - 60_000), attempts: 1 } });
    const swept = await workers.sweepStalled(30_000, 3);
    expect(swept.requeued).toEqual([await viaSelect(o.ownerId, first.scan.id)]);

    const cancelled = await owners.cancelInSessions(o.ownerId, [o.sessionId]);
    expect(cancelled.sort((x, y) => x.name!.localeCompare(y.name!))).toEqual([await viaSelect(o.ownerId, first.scan.id), await viaSelect(o.ownerId, second.scan.id)]);
  });
});
