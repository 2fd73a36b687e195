import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GetScanDocument,
  OpenSessionDocument,
  SaveDatabaseConnectionDocument,
  ScanProgressDocument,
  StartDatabaseScanDocument,
  StartDocumentScanDocument,
  MeDocument,
  type ProgressFieldsFragment,
} from "../generated/graphql.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request, TestWsClient } from "../support/graphql-client.js";
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from "../support/private-redis.js";
import { requireRedisOrSkip, uniquePrefix } from "../support/redis.js";
import { createScanTarget, type ScanTarget } from "../support/scan-target.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

/**
 * Faults with real processes: a worker killed with SIGKILL or stopped with SIGTERM mid-scan,
 * and Redis stopped or restarted mid-scan. Uses a Redis of its own so restarting it does not
 * disturb other test files.
 */
const run = (await requireRedisOrSkip("scan-faults.redis.test.ts")) && redisServerAvailable();
if (!run && process.env.REQUIRE_REDIS === "1") throw new Error("scan-faults.redis.test.ts needs redis-server on PATH (REQUIRE_REDIS=1)");

describe.runIf(run)("scan faults (two API instances, workers, private Redis)", () => {
  let db: TestDatabase;
  let redis: PrivateRedis;
  let target: ScanTarget;
  let env: Record<string, string>;
  let a: ServerProcess;
  let b: ServerProcess;
  const workers: ServerProcess[] = [];
  const startWorker = async (extra: Record<string, string> = {}) => {
    const w = await startServerProcess({ ...env, SCAN_WORKERS: "4", ...extra }, { entry: "src/worker.ts", readyPattern: "scan worker ready" });
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    [db, redis, target] = await Promise.all([createTestDatabase(), startPrivateRedis(), createScanTarget()]);
    env = {
      JWT_SECRET: randomBytes(32).toString("base64url"),
      ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: uniquePrefix("faults"),
      DATABASE_SCAN_STATEMENT_TIMEOUT: "120s",
      SCAN_STALL_TIMEOUT: "3s",
      SCAN_HEARTBEAT_INTERVAL: "500ms",
      SHUTDOWN_GRACE: "1s",
    };
    [a, b] = await Promise.all([startServerProcess({ ...env, SCAN_WORKERS: "0" }), startServerProcess({ ...env, SCAN_WORKERS: "0" })]);
  }, 120_000);

  afterAll(async () => {
    await target?.release();
    await Promise.all([a?.stop(), b?.stop(), ...workers.map((w) => w.stop("SIGKILL"))]);
    await redis?.stop();
    await target?.drop();
    await db?.drop();
  });

  const tokenFor = (user: string) => a.token(user);
  async function blockingScan(user: string) {
    const t = await tokenFor(user);
    const sessionId = (await request(a.url, OpenSessionDocument, { input: {} }, t)).data!.openSession.id;
    const conn = await request(
      a.url,
      SaveDatabaseConnectionDocument,
      { input: { sessionId, name: "t", engine: "POSTGRESQL", host: target.host, port: target.port, database: target.database, user: target.user, password: target.password } },
      t,
    );
    const started = await request(b.url, StartDatabaseScanDocument, { input: { sessionId, connectionId: conn.data!.saveDatabaseConnection.id, sampleSize: 10 } }, t);
    expect(started.errors).toBeUndefined();
    return { t, sessionId, scanId: started.data!.startDatabaseScan.id };
  }
  const scanOf = async (t: string, id: string) => (await request(a.url, GetScanDocument, { id }, t)).data!.scan!;

  it("kill -9 of the worker mid-scan: the scan resumes on another worker and completes once, never RUNNING forever", async () => {
    await target.lock();
    const w1 = await startWorker();
    const { t, scanId } = await blockingScan("kim");
    await waitFor("RUNNING on w1", () => scanOf(t, scanId), (s) => s.status === "RUNNING", { timeoutMs: 15_000 });
    w1.child.kill("SIGKILL");
    await w1.exited;
    const w2 = await startWorker();
    const killedAt = Date.now();
    // Requeued once its heartbeat is older than SCAN_STALL_TIMEOUT (3 s), then taken by w2.
    const resumed = await waitFor("resumed", () => scanOf(t, scanId), (s) => s.status === "RUNNING" && s.seq > 2 && s.stage !== "requeued after worker loss", { timeoutMs: 20_000 });
    expect(resumed.status).toBe("RUNNING");
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    await target.release();
    const done = await waitFor("SUCCEEDED", () => scanOf(t, scanId), (s) => s.status === "SUCCEEDED", { timeoutMs: 20_000 });
    expect(done.findingsCount).toBe(done.findings.totalCount);
    expect(new Set(done.findings.edges.map((e) => `${e.node.location.column}:${e.node.type}`)).size).toBe(done.findings.totalCount); // nothing duplicated
    await w2.stop();
  }, 90_000);

  it("kill -9 with no attempts left (SCAN_MAX_ATTEMPTS=2, killed twice): FAILED with WORKER_LOST within the stall timeout", async () => {
    await target.lock();
    const { t, scanId } = await blockingScan("lena");
    let last = await scanOf(t, scanId);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const w = await startWorker();
      last = await waitFor(`RUNNING (attempt ${attempt})`, () => scanOf(t, scanId), (s) => s.status === "RUNNING" && s.seq > last.seq, { timeoutMs: 20_000 });
      w.child.kill("SIGKILL");
      await w.exited;
    }
    const killedAt = Date.now();
    const ended = await waitFor("FAILED", () => scanOf(t, scanId), (s) => s.status === "FAILED", { timeoutMs: 20_000 });
    expect(Date.now() - killedAt).toBeLessThan(3_000 + 5_000); // stall timeout + one sweep interval, with slack
    expect(ended.error).toEqual({ code: "WORKER_LOST", message: expect.stringContaining("stopped responding") });
    expect(ended.finishedAt).not.toBeNull();
    await target.release();
  }, 90_000);

  it("SIGTERM on a worker requeues its running scan within the grace period; another worker finishes it", async () => {
    await target.lock();
    const w1 = await startWorker();
    const { t, scanId } = await blockingScan("mia");
    await waitFor("RUNNING", () => scanOf(t, scanId), (s) => s.status === "RUNNING", { timeoutMs: 15_000 });
    const code = await w1.stop("SIGTERM");
    expect(code).toBe(0);
    const requeued = await scanOf(t, scanId);
    expect(requeued.status).toBe("QUEUED");
    await startWorker();
    await target.release();
    const done = await waitFor("SUCCEEDED", () => scanOf(t, scanId), (s) => s.status === "SUCCEEDED", { timeoutMs: 30_000 });
    expect(done.findingsCount).toBeGreaterThan(0);
  }, 90_000);

  it("Redis restarted mid-scan: the subscriber still gets the final state; queries answer meanwhile; new scans wait and then run", async () => {
    await target.lock();
    if (!workers.some((w) => w.child.exitCode === null)) await startWorker();
    const { t, scanId, sessionId } = await blockingScan("noor");
    await waitFor("RUNNING", () => scanOf(t, scanId), (s) => s.status === "RUNNING", { timeoutMs: 15_000 });
    const ws = await TestWsClient.connect(a.wsUrl, t);
    ws.subscribe("1", ScanProgressDocument, { scanId });
    const first = (await ws.waitForMessage()) as { payload: { data: { scanProgress: ProgressFieldsFragment } } };
    expect(first.payload.data.scanProgress.status).toBe("RUNNING");

    await redis.stop();
    // PostgreSQL answers queries while Redis is down.
    expect((await request(a.url, MeDocument, {}, t)).data?.me.id).toBe("noor");
    const ready = await fetch(`${a.base}/readyz`);
    expect(ready.status).toBe(503);
    // A new scan is accepted and waits in PostgreSQL.
    const waiting = await request(b.url, StartDocumentScanDocument, { input: { sessionId, documents: [{ name: "x.txt", text: "mail x@example.com" }] } }, t);
    expect(waiting.errors).toBeUndefined();
    expect(waiting.data!.startDocumentScan.status).toBe("QUEUED");
    // The running scan finishes while Redis is down.
    await target.release();
    await waitFor("SUCCEEDED in PostgreSQL", () => scanOf(t, scanId), (s) => s.status === "SUCCEEDED", { timeoutMs: 30_000 });

    await redis.start();
    // The subscriber re-reads PostgreSQL after the reconnect: the final state arrives.
    const deadline = Date.now() + 30_000;
    let final: ProgressFieldsFragment | null = null;
    while (!final && Date.now() < deadline) {
      const msg = (await ws.waitForMessage(Math.max(1, deadline - Date.now()))) as { type: string; payload?: { data: { scanProgress: ProgressFieldsFragment } } };
      if (msg.type === "next" && msg.payload!.data.scanProgress.status === "SUCCEEDED") final = msg.payload!.data.scanProgress;
    }
    expect(final?.status).toBe("SUCCEEDED");
    expect(await ws.waitForMessage()).toEqual({ type: "complete", id: "1" });
    ws.close();
    // The scan accepted during the outage runs once Redis is back.
    await waitFor("the waiting scan to run", () => scanOf(t, waiting.data!.startDocumentScan.id), (s) => s.status === "SUCCEEDED", { timeoutMs: 40_000 });
    expect((await fetch(`${a.base}/readyz`)).status).toBe(200);
  }, 150_000);
});
