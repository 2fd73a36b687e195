import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListScansDocument, OpenSessionDocument } from "../generated/graphql.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request, TestWsClient } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

/**
 * The capacity monitor's say reaches the scan admission and the workers (issues 5, 6 and 10.6):
 * at CRITICAL a new scan is admitted and waits in the queue, visibly, until capacity returns;
 * only critical memory refuses it.
 */
const START = `mutation Start($input: DocumentScanInput!) { startDocumentScan(input: $input) { id status waitingFor } }`;
const SCAN = `query Scan($id: ID!) { scan(id: $id) { id status waitingFor queuePosition findingsCount } }`;
const HOLD = `query Hold { capacity { level scans { queued capacityHold } } }`;

type ScanView = { id: string; status: string; waitingFor: string | null; queuePosition?: number | null; findingsCount?: number };

async function startScan(server: ServerProcess, token: string) {
  const session = await request(server.url, OpenSessionDocument, { input: {} }, token);
  expect(session.errors).toBeUndefined();
  const documents = [{ name: "a.txt", text: "mail jan@example.nl" }];
  return request<{ startDocumentScan: ScanView }, Record<string, unknown>>(server.url, START, { input: { sessionId: session.data!.openSession.id, documents } }, token);
}
const readScan = async (server: ServerProcess, token: string, id: string) =>
  (await request<{ scan: ScanView | null }, Record<string, unknown>>(server.url, SCAN, { id }, token)).data?.scan ?? null;

describe("at CRITICAL, scans wait in the queue and run when capacity returns", () => {
  let db: TestDatabase;
  let critical: ServerProcess;
  let calm: ServerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Two instances on one database and no Redis: only PostgreSQL carries one's level to the other.
    // `calm` keeps the harness's forced OK for its own figures (a loaded test machine).
    const shared = { DATABASE_URL: db.url, CAPACITY_SAMPLE_INTERVAL: "500ms", ENCRYPTION_KEY: randomBytes(32).toString("base64"), JWT_SECRET: randomBytes(32).toString("base64url") };
    [critical, calm] = await Promise.all([startServerProcess({ ...shared, CAPACITY_FORCE_LEVEL: "CRITICAL" }), startServerProcess(shared)]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([critical?.stop(), calm?.stop()]);
    await db?.drop();
  });

  it("admits as QUEUED waiting for CAPACITY on both instances, holds them, then drains once the CRITICAL one leaves", async () => {
    const cora = await critical.token("cora");
    const dirk = await calm.token("dirk");
    const admin = await calm.token("root", { admin: true });
    // The calm instance has read the critical one's level from PostgreSQL.
    await waitFor("the calm instance to see the critical one", async () => (await request<{ capacity: { scans: { capacityHold: string | null } } }, Record<string, unknown>>(calm.url, HOLD, {}, admin)).data?.capacity.scans.capacityHold ?? null, (h) => h !== null);

    const onCritical = await startScan(critical, cora);
    const onCalm = await startScan(calm, dirk);
    for (const res of [onCritical, onCalm]) {
      expect(res.errors).toBeUndefined();
      expect(res.data!.startDocumentScan).toMatchObject({ status: "QUEUED", waitingFor: "CAPACITY" });
    }
    const a = onCritical.data!.startDocumentScan.id;
    const b = onCalm.data!.startDocumentScan.id;

    // Held: several samples and worker retries later, neither has started.
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      expect(await readScan(critical, cora, a)).toMatchObject({ status: "QUEUED", waitingFor: "CAPACITY" });
      expect(await readScan(calm, dirk, b)).toMatchObject({ status: "QUEUED", waitingFor: "CAPACITY" });
      await new Promise((r) => setTimeout(r, 200));
    }
    const report = (await request<{ capacity: { level: string; scans: { queued: number; capacityHold: string } } }, Record<string, unknown>>(calm.url, HOLD, {}, admin)).data!.capacity;
    expect(report).toMatchObject({ level: "CRITICAL", scans: { queued: 2, capacityHold: expect.stringMatching(/^capacity is CRITICAL on .+ \(level forced by CAPACITY_FORCE_LEVEL\)$/) } });

    // Capacity returns: the CRITICAL instance shuts down (and leaves the live instances). The calm
    // instance runs its own scan, and the other one too once its queue reconciler finds it.
    expect(await critical.stop()).toBe(0);
    const done = (token: string, id: string) => waitFor(`scan ${id} to finish`, () => readScan(calm, token, id), (s) => s?.status === "SUCCEEDED", { timeoutMs: 40_000, intervalMs: 200 });
    expect(await done(dirk, b)).toMatchObject({ status: "SUCCEEDED", waitingFor: null, findingsCount: 1 });
    expect(await done(cora, a)).toMatchObject({ status: "SUCCEEDED", waitingFor: null, findingsCount: 1 });
  }, 90_000);
});

describe("a queued scan's subscriber sees what it waits for change with the capacity hold", () => {
  let db: TestDatabase;
  let api: ServerProcess;
  const ENCRYPTION_KEY = randomBytes(32).toString("base64");

  beforeAll(async () => {
    db = await createTestDatabase();
    // No workers anywhere: a scan stays QUEUED whatever the level, so only its reason changes.
    api = await startServerProcess({ DATABASE_URL: db.url, CAPACITY_SAMPLE_INTERVAL: "500ms", SCAN_WORKERS: "0", ENCRYPTION_KEY });
  }, 90_000);
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it("SLOT, then CAPACITY while another instance is CRITICAL, then SLOT again once it leaves", async () => {
    const erin = await api.token("erin");
    const started = await startScan(api, erin);
    expect(started.data!.startDocumentScan).toMatchObject({ status: "QUEUED", waitingFor: "SLOT" });
    const id = started.data!.startDocumentScan.id;

    const ws = await TestWsClient.connect(api.wsUrl, erin);
    ws.subscribe("p", `subscription P($id: ID!) { scanProgress(scanId: $id) { status waitingFor queuePosition seq } }`, { id });
    type Event = { type: string; payload: { data: { scanProgress: { status: string; waitingFor: string | null; queuePosition: number; seq: number } } } };
    const next = async () => {
      const msg = (await ws.waitForMessage(20_000)) as Event;
      expect(msg.type).toBe("next");
      return msg.payload.data.scanProgress;
    };
    expect(await next()).toMatchObject({ status: "QUEUED", waitingFor: "SLOT", queuePosition: 1 });

    const critical = await startServerProcess({ DATABASE_URL: db.url, CAPACITY_SAMPLE_INTERVAL: "500ms", SCAN_WORKERS: "0", CAPACITY_FORCE_LEVEL: "CRITICAL", ENCRYPTION_KEY });
    try {
      const held = await next();
      expect(held).toMatchObject({ status: "QUEUED", waitingFor: "CAPACITY", queuePosition: 1 });
      expect(await readScan(api, erin, id)).toMatchObject({ status: "QUEUED", waitingFor: "CAPACITY" });
    } finally {
      await critical.stop();
    }
    expect(await next()).toMatchObject({ status: "QUEUED", waitingFor: "SLOT", queuePosition: 1 });
    ws.close();
  }, 90_000);
});

describe("only critical memory refuses", () => {
  let db: TestDatabase;
  let server: ServerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Computed levels (nothing forced): memory over a 2% critical threshold, the rest out of reach.
    server = await startServerProcess({
      DATABASE_URL: db.url,
      CAPACITY_FORCE_LEVEL: undefined,
      CAPACITY_MEMORY_WARN: "1%",
      CAPACITY_MEMORY_CRIT: "2%",
      CAPACITY_CPU_WARN: "100%",
      CAPACITY_CPU_CRIT: "100%",
      CAPACITY_POOL_WARN: "100%",
      CAPACITY_POOL_CRIT: "100%",
      CAPACITY_LOOP_DELAY_WARN: "10m",
      CAPACITY_LOOP_DELAY_CRIT: "10m",
    });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it("refuses a new scan with CAPACITY_EXCEEDED, one sentence and a retry hint, storing nothing", async () => {
    const t = await server.token("cora");
    const res = await startScan(server, t);
    expect(codeOf(res)).toBe("CAPACITY_EXCEEDED");
    const error = res.errors![0]!;
    expect(error.extensions!.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.message).toMatch(new RegExp(`^Memory on .+ is at [\\d.]+% \\(critical from 2%\\), so new scans are refused; retry in ${error.extensions!.retryAfterSeconds} s\\.$`));
    expect(res.data ?? null).toBeNull();
    expect((await request(server.url, ListScansDocument, {}, t)).data!.scans.totalCount).toBe(0);
  });
});
