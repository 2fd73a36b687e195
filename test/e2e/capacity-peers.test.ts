/**
 * One instance's CRITICAL capacity level holds back scans admitted on another (issue 16 point 4):
 * two server processes share one PostgreSQL; A is CRITICAL (forced, or computed from memory), B
 * computes its own level (nothing forced, thresholds out of reach: OK). A scan started on B must not run while
 * A is live and CRITICAL: it is refused, or admitted as QUEUED and left waiting (API.md). Once A
 * is gone, B runs scans again. No Redis: the instances know of each other through PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { CapacityDocument, GetScanDocument, OpenSessionDocument, StartDocumentScanDocument } from "../generated/graphql.js";
import { expectHeldBack } from "../support/admission.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

/** Thresholds no test machine reaches: B's own level is OK whatever the load. */
const UNREACHABLE = {
  CAPACITY_MEMORY_WARN: "100%",
  CAPACITY_MEMORY_CRIT: "100%",
  CAPACITY_CPU_WARN: "100%",
  CAPACITY_CPU_CRIT: "100%",
  CAPACITY_POOL_WARN: "100%",
  CAPACITY_POOL_CRIT: "100%",
  CAPACITY_LOOP_DELAY_WARN: "10m",
  CAPACITY_LOOP_DELAY_CRIT: "10m",
};
const SAMPLE_MS = 1_000;
/** Instances of one deployment share their secrets. */
const SHARED = { JWT_SECRET: randomBytes(32).toString("base64url"), ENCRYPTION_KEY: randomBytes(32).toString("base64") };

let db: TestDatabase;
let a: ServerProcess | null = null;
let b: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  b = await startServerProcess({ ...SHARED, DATABASE_URL: db.url, CAPACITY_SAMPLE_INTERVAL: `${SAMPLE_MS}ms`, CAPACITY_FORCE_LEVEL: undefined, ...UNREACHABLE });
}, 120_000);

// A failed case must not leave a CRITICAL A behind for the next one.
afterEach(async () => {
  await a?.stop();
  a = null;
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await db?.drop();
});

const startScan = async (token: string) => {
  const session = await request(b.url, OpenSessionDocument, { input: { name: "peers" } }, token);
  expect(session.errors).toBeUndefined();
  const documents = [{ name: "a.txt", text: "mail jan@example.nl" }];
  return request(b.url, StartDocumentScanDocument, { input: { sessionId: session.data!.openSession.id, documents } }, token);
};
const statusOf = async (token: string, id: string) => (await request(b.url, GetScanDocument, { id }, token)).data?.scan?.status;

const aCritical: Array<[string, Record<string, string | undefined>]> = [
  ["forced (CAPACITY_FORCE_LEVEL=CRITICAL)", { CAPACITY_FORCE_LEVEL: "CRITICAL" }],
  ["computed (memory over a 2% critical threshold)", { CAPACITY_FORCE_LEVEL: undefined, CAPACITY_MEMORY_WARN: "1%", CAPACITY_MEMORY_CRIT: "2%" }],
];

it.each(aCritical)("an instance CRITICAL %s holds back scans started on another; when it leaves, they run", async (_how, critical) => {
  const admin = await b.token("root", { admin: true });
  const user = await b.token("petra");
  const report = async () => (await request(b.url, CapacityDocument, {}, admin)).data!.capacity;
  const sampledAt = (r: Awaited<ReturnType<typeof report>>, pid: number | undefined) => Date.parse(r.instances.find((i) => i.pid === pid)?.sampledAt ?? "") || 0;

  // Alone, B is OK and runs a scan.
  expect(await report()).toMatchObject({ level: "OK", forcedLevel: null });
  const alone = await startScan(user);
  expect(alone.errors).toBeUndefined();
  await waitFor("the scan on B alone to finish", () => statusOf(user, alone.data!.startDocumentScan.id), (s) => s === "SUCCEEDED");

  // A joins, CRITICAL; it runs no scans itself.
  a = await startServerProcess({ ...SHARED, DATABASE_URL: db.url, CAPACITY_SAMPLE_INTERVAL: `${SAMPLE_MS}ms`, SCAN_WORKERS: "0", ...UNREACHABLE, ...critical });
  const pidA = a.child.pid;
  const seen = await waitFor("B's report to list A at CRITICAL", report, (r) => r.instances.some((i) => i.pid === pidA && i.level === "CRITICAL"), { timeoutMs: 20_000, intervalMs: 250 });
  // B judges admission from its own samples: wait until B has sampled twice since A's CRITICAL one.
  const criticalAt = sampledAt(seen, pidA);
  await waitFor("B to sample after A's CRITICAL sample", report, (r) => sampledAt(r, b.child.pid) > criticalAt + SAMPLE_MS, { timeoutMs: 20_000, intervalMs: 250 });

  // B's own figures are OK, yet a scan started there does not run while A is CRITICAL.
  const held = await expectHeldBack(await startScan(user), (id) => statusOf(user, id), 4 * SAMPLE_MS);

  // A leaves: scans run on B again, the held one first.
  await a.stop();
  a = null;
  if (held) {
    await waitFor("the held scan to run once A is gone", () => statusOf(user, held), (s) => s === "SUCCEEDED", { timeoutMs: 30_000 });
  } else {
    const again = await waitFor("B to admit again", () => startScan(user), (r) => !r.errors, { timeoutMs: 30_000, intervalMs: 500 });
    await waitFor("the scan to run once A is gone", () => statusOf(user, again.data!.startDocumentScan.id), (s) => s === "SUCCEEDED");
  }
}, 120_000);
