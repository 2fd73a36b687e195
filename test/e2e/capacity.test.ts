/**
 * Capacity over the real transports: two server processes on one database, an admin over
 * HTTP and WebSocket, a user refused on both, /metrics, and a forced CRITICAL level.
 * The pool saturation and the admission veto are proven in-process in capacity-monitor.test.ts.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parse, print, type OperationDefinitionNode } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetScanDocument, OpenSessionDocument, StartDocumentScanDocument } from "../generated/graphql.js";
import { expectHeldBack } from "../support/admission.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request, TestWsClient } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

/** The operations of capacity.graphql by name (as an integrator's generated client would send them). */
async function operations(): Promise<Record<string, string>> {
  const doc = parse(await readFile(new URL("./operations/capacity.graphql", import.meta.url), "utf8"));
  return Object.fromEntries(
    doc.definitions.map((d) => [(d as OperationDefinitionNode).name!.value, print(d)]),
  );
}

interface Report {
  level: string;
  forcedLevel: string | null;
  connectedClients: number;
  cpu: number;
  memoryUsed: number;
  database: { size: number; inUse: number; idle: number; waiting: number };
  scans: { running: number; queued: number; maxConcurrent: number; maxPerUser: number };
  instances: Array<{ id: string; pid: number; hostname: string; database: { size: number }; sampledAt: string | null }>;
  alerts: Array<{ level: string; metric: string; message: string; clearedAt: string | null }>;
  recommendations: Array<{ severity: string; message: string }>;
  history: Array<{ at: string; instances: number }>;
}

let db: TestDatabase;
let a: ServerProcess;
let b: ServerProcess;
let ops: Record<string, string>;
let admin: string;
let alice: string;

/**
 * Thresholds no test machine can reach (a ratio can reach 100% only when the whole machine is
 * used; the CPU figure is a 1-minute average seeded from 0), except the ones a test sets.
 */
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
// Computed levels here (the test harness forces OK by default for a loaded machine): with memory
// over a 1% warning threshold and every other threshold out of reach, the level is WARNING.
// Instances sharing one database share its ENCRYPTION_KEY (start-up checks the key's fingerprint).
const ENCRYPTION_KEY = randomBytes(32).toString("base64");
const env = () => ({
  DATABASE_URL: db.url,
  ENCRYPTION_KEY,
  CAPACITY_SAMPLE_INTERVAL: "500ms",
  DATABASE_POOL_SIZE: "7",
  CAPACITY_FORCE_LEVEL: undefined,
  ...UNREACHABLE,
  CAPACITY_MEMORY_WARN: "1%",
});

beforeAll(async () => {
  db = await createTestDatabase();
  ops = await operations();
  [a, b] = await Promise.all([startServerProcess(env()), startServerProcess(env())]);
  admin = await a.token("root", { admin: true });
  alice = await a.token("alice");
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await db?.drop();
});

const capacity = async (server: ServerProcess, token: string, minutes?: number) =>
  request<{ capacity: Report }, Record<string, unknown>>(server.url, ops.Capacity!, minutes === undefined ? {} : { minutes }, token);

describe("capacity over HTTP", () => {
  it("answers an admin with both instances in one report", async () => {
    await expect
      .poll(async () => (await capacity(a, admin)).data?.capacity.instances.length, { timeout: 10_000, interval: 250 })
      .toBe(2);
    const res = await capacity(a, admin);
    expect(res.errors).toBeUndefined();
    const r = res.data!.capacity;
    // The computed level: memory is over its 1% warning threshold on both instances, nothing else trips.
    expect(r.level).toBe("WARNING");
    expect(r.forcedLevel).toBeNull();
    const open = r.alerts.filter((x) => x.clearedAt === null);
    expect(open.map((x) => `${x.level} ${x.metric}`)).toEqual(["WARNING memory", "WARNING memory"]);
    expect(r.instances.map((i) => i.pid).sort()).toEqual([a.child.pid, b.child.pid].sort());
    expect(r.instances.every((i) => i.database.size === 7 && i.sampledAt !== null)).toBe(true);
    expect(r.database.size).toBe(14); // pools summed across instances
    expect(r.scans).toMatchObject({ running: 0, queued: 0, maxConcurrent: 8, maxPerUser: 3 });
    expect(r.cpu).toBeGreaterThanOrEqual(0);
    expect(r.cpu).toBeLessThanOrEqual(1);
    expect(r.memoryUsed).toBeGreaterThan(0);
    expect(r.memoryUsed).toBeLessThanOrEqual(1);
    // history: points from both instances
    expect(r.history.length).toBeGreaterThan(0);
    expect(r.history.some((p) => p.instances === 2)).toBe(true);
    // the other instance reports the same two
    const fromB = await capacity(b, await b.token("root", { admin: true }));
    expect(fromB.data!.capacity.instances.map((i) => i.id).sort()).toEqual(r.instances.map((i) => i.id).sort());
  });

  it("validates history(minutes) to 1..10080", async () => {
    for (const minutes of [0, 10_081, -5]) {
      const res = await capacity(a, admin, minutes);
      expect(codeOf(res)).toBe("BAD_USER_INPUT");
    }
    expect((await capacity(a, admin, 10_080)).errors).toBeUndefined();
  });

  it("refuses a user with FORBIDDEN and an anonymous caller with UNAUTHENTICATED", async () => {
    const res = await capacity(a, alice);
    expect(codeOf(res)).toBe("FORBIDDEN");
    expect(res.data ?? null).toBeNull();
    expect(codeOf(await request(a.url, ops.Capacity!, {}))).toBe("UNAUTHENTICATED");
  });

  it("serves the capacity figures on /metrics, labelled by instance", async () => {
    const text = await (await fetch(`${a.base}/metrics`)).text();
    for (const name of [
      "dg_capacity_level",
      "dg_cpu_machine_ratio",
      "dg_cpu_process_ratio",
      "dg_memory_used_ratio",
      "dg_event_loop_delay_seconds",
      "dg_scans_running",
      "dg_scans_queued",
      "dg_active_users",
      "dg_capacity_sample_duration_seconds_bucket",
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}\\{[^}]*instance="[^"]+"[^}]*\\} [0-9.e+-]+$`, "m"));
    }
  });
});

describe("capacityUpdates over WebSocket", () => {
  it("sends an admin the current report, then one per sample", async () => {
    const ws = await TestWsClient.connect(a.wsUrl, admin);
    ws.subscribe("cap", ops.CapacityUpdates!);
    const first = (await ws.waitForMessage()) as { type: string; id: string; payload: { data: { capacityUpdates: { at: string; subscriptions: number; instances: unknown[] } } } };
    expect(first).toMatchObject({ type: "next", id: "cap" });
    expect(first.payload.data.capacityUpdates.instances.length).toBeGreaterThanOrEqual(1);
    // Then one report per sample (of either instance), each newer than the last, until this very
    // subscription is counted: once a sample of A has seen it (a condition, not "the second one").
    let previous = first;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const next = (await ws.waitForMessage(Math.max(1, deadline - Date.now()))) as typeof first;
      expect(next).toMatchObject({ type: "next", id: "cap" });
      expect(new Date(next.payload.data.capacityUpdates.at).getTime()).toBeGreaterThan(new Date(previous.payload.data.capacityUpdates.at).getTime());
      previous = next;
      if (next.payload.data.capacityUpdates.subscriptions >= 1) break;
    }
    ws.send({ type: "complete", id: "cap" });
    ws.close();
  });

  it("refuses a user with FORBIDDEN at subscribe time", async () => {
    const ws = await TestWsClient.connect(a.wsUrl, alice);
    ws.subscribe("cap", ops.CapacityUpdates!);
    const msg = (await ws.waitForMessage()) as { type: string; id: string; payload: unknown };
    // graphql-ws delivers a subscribe-time error as `next` with errors (then `complete`) or as `error`.
    const errors = (msg.type === "error" ? msg.payload : (msg.payload as { errors: unknown[] }).errors) as Array<{ extensions: { code: string } }>;
    expect(errors[0]!.extensions.code).toBe("FORBIDDEN");
    if (msg.type === "next") {
      expect((msg.payload as { data?: unknown }).data ?? null).toBeNull();
      expect(await ws.waitForMessage()).toEqual({ type: "complete", id: "cap" });
    }
    // and no report follows
    await new Promise((r) => setTimeout(r, 1_200));
    expect(ws.pending).toBe(0);
    ws.close();
  });
});

describe("a forced CRITICAL level", () => {
  it("shows in the report with the override alert", async () => {
    const forced = await startServerProcess({ ...env(), CAPACITY_FORCE_LEVEL: "critical" });
    try {
      const token = await forced.token("root", { admin: true });
      const r = (await capacity(forced, token)).data!.capacity;
      expect(r.level).toBe("CRITICAL");
      expect(r.forcedLevel).toBe("CRITICAL");
      expect(r.alerts).toContainEqual(expect.objectContaining({ level: "CRITICAL", metric: "override" }));
    } finally {
      await forced.stop();
    }
  }, 60_000);

  it("refuses a bad threshold at start-up with one line naming it", async () => {
    await expect(startServerProcess({ ...env(), CAPACITY_MEMORY_WARN: "185%" })).rejects.toThrow(/Invalid CAPACITY_MEMORY_WARN/);
  });
});

describe("admission follows the computed level (nothing forced)", () => {
  const startScan = async (server: ServerProcess, token: string) => {
    const session = await request(server.url, OpenSessionDocument, { input: { name: "capacity" } }, token);
    expect(session.errors).toBeUndefined();
    const documents = [{ name: "a.txt", text: "mail jan@example.nl" }];
    return request(server.url, StartDocumentScanDocument, { input: { sessionId: session.data!.openSession.id, documents } }, token);
  };
  const statusOf = async (server: ServerProcess, token: string, id: string) => (await request(server.url, GetScanDocument, { id }, token)).data?.scan?.status;

  it("at a computed WARNING a scan is admitted and runs", async () => {
    expect((await capacity(a, admin)).data!.capacity).toMatchObject({ level: "WARNING", forcedLevel: null });
    const started = await startScan(a, alice);
    expect(started.errors).toBeUndefined();
    await waitFor("the scan to finish", () => statusOf(a, alice, started.data!.startDocumentScan.id), (s) => s === "SUCCEEDED");
  });

  it("at a computed CRITICAL (memory over a 2% critical threshold) a new scan does not run", async () => {
    const critical = await startServerProcess({ ...env(), CAPACITY_MEMORY_CRIT: "2%" });
    try {
      const token = await critical.token("root", { admin: true });
      const r = (await capacity(critical, token)).data!.capacity;
      expect(r).toMatchObject({ level: "CRITICAL", forcedLevel: null });
      expect(r.alerts).toContainEqual(expect.objectContaining({ level: "CRITICAL", metric: "memory", clearedAt: null }));
      const user = await critical.token("carla");
      await expectHeldBack(await startScan(critical, user), (id) => statusOf(critical, user, id), 1_500); // 3 samples
    } finally {
      await critical.stop();
    }
  }, 60_000);
});
