import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelScanDocument,
  GetScanDocument,
  ListScansDocument,
  MyScansDocument,
  OpenSessionDocument,
  SaveDatabaseConnectionDocument,
  ScanProgressDocument,
  StartDatabaseScanDocument,
  StartDocumentScanDocument,
  StartCodeScanDocument,
  type ProgressFieldsFragment,
} from "../generated/graphql.js";
import { codeOf, request, TestWsClient } from "../support/graphql-client.js";
import { createScanTarget, type ScanTarget } from "../support/scan-target.js";
import type { ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

/** The instances a behaviour test talks to: one server, or two API instances (+ workers elsewhere). */
export interface ScanCluster {
  a: ServerProcess;
  b: ServerProcess;
  stop(): Promise<void>;
}

type Next = { type: string; id?: string; payload?: { data?: Record<string, ProgressFieldsFragment>; errors?: unknown[] } | unknown[] };

const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];

/** Reads `next` messages of one subscription until `until` holds; returns them in arrival order. */
async function collect(ws: TestWsClient, field: string, until: (e: ProgressFieldsFragment, all: ProgressFieldsFragment[]) => boolean, timeoutMs = 20_000) {
  const events: ProgressFieldsFragment[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const msg = (await ws.waitForMessage(Math.max(1, deadline - Date.now()))) as Next;
    if (msg.type === "next") {
      const payload = msg.payload as { data?: Record<string, ProgressFieldsFragment>; errors?: unknown[] };
      if (payload.errors) throw new Error(`subscription error: ${JSON.stringify(payload.errors)}`);
      const e = payload.data![field]!;
      events.push(e);
      if (until(e, events)) return events;
    } else if (msg.type === "complete") {
      return events;
    } else {
      throw new Error(`unexpected message ${JSON.stringify(msg)}`);
    }
  }
}

const documents = (n: number, size = 20_000) =>
  Array.from({ length: n }, (_, i) => ({
    name: `doc-${i}.txt`,
    text: `Klant ${i}: jan.${i}@example.nl, BSN 123456782, IBAN NL91ABNA0417164300.\n`.padEnd(size, "Lorem ipsum dolor sit amet. "),
  }));

/**
 * Scan behaviour shared by the in-process queue and the Redis-backed one (issue 5: "the same
 * behaviour tests run against the in-process implementation").
 */
export function describeScanBehaviour(name: string, startCluster: () => Promise<ScanCluster>, options: { skip?: boolean } = {}): void {
  // Skipped (with the one line its file printed saying why): the tests are listed as skipped.
  (options.skip ? describe.skip : describe)(name, () => {
    let cluster: ScanCluster;
    let target: ScanTarget;
    const tokens = new Map<string, string>();
    const token = async (user: string) => {
      if (!tokens.has(user)) tokens.set(user, await cluster.a.token(user));
      return tokens.get(user)!;
    };
    const openSession = async (server: ServerProcess, user: string) => {
      const res = await request(server.url, OpenSessionDocument, { input: { name: `${user}'s` } }, await token(user));
      expect(res.errors).toBeUndefined();
      return res.data!.openSession.id;
    };
    const saveTarget = async (server: ServerProcess, user: string, sessionId: string) => {
      const res = await request(
        server.url,
        SaveDatabaseConnectionDocument,
        {
          input: {
            sessionId,
            name: "target",
            engine: "POSTGRESQL",
            host: target.host,
            port: target.port,
            database: target.database,
            user: target.user,
            password: target.password,
          },
        },
        await token(user),
      );
      expect(res.errors).toBeUndefined();
      return res.data!.saveDatabaseConnection.id;
    };
    /** Starts a DATABASE scan of the locked table: it runs until cancelled or released. */
    const startBlocking = async (server: ServerProcess, user: string, sessionId: string, connectionId: string) =>
      request(server.url, StartDatabaseScanDocument, { input: { sessionId, connectionId, sampleSize: 10 } }, await token(user));
    const statusOf = async (server: ServerProcess, user: string, id: string) =>
      (await request(server.url, GetScanDocument, { id }, await token(user))).data!.scan!;

    beforeAll(async () => {
      cluster = await startCluster();
      target = await createScanTarget();
    }, 120_000);

    afterAll(async () => {
      await target?.release();
      await cluster?.stop();
      await target?.drop();
    });

    it("streams a document scan started on B to a subscriber on A: in order, complete, then masked findings", async () => {
      const sessionId = await openSession(cluster.b, "dora");
      // The subscription must be listening before the scan starts. A scan of the locked table
      // stays active: myScans sends its current state only after it listens, so that first
      // message is the proof (no sleep).
      await target.lock();
      const marker = await startBlocking(cluster.a, "dora", sessionId, await saveTarget(cluster.a, "dora", sessionId));
      expect(marker.errors).toBeUndefined();
      const markerId = marker.data!.startDatabaseScan.id;
      const ws = await TestWsClient.connect(cluster.a.wsUrl, await token("dora"));
      ws.subscribe("all", MyScansDocument);
      await collect(ws, "myScans", (e) => e.scanId === markerId);
      const started = await request(cluster.b.url, StartDocumentScanDocument, { input: { sessionId, documents: documents(120) } }, await token("dora"));
      expect(started.errors).toBeUndefined();
      const scanId = started.data!.startDocumentScan.id;
      const events = (await collect(ws, "myScans", (e) => e.scanId === scanId && TERMINAL.includes(e.status), 60_000)).filter((e) => e.scanId === scanId);
      ws.close();
      expect((await request(cluster.a.url, CancelScanDocument, { id: markerId }, await token("dora"))).data!.cancelScan.status).toBe("CANCELLED");
      await target.release();

      const seqs = events.map((e) => e.seq);
      expect(seqs[0]).toBe(0); // admission: QUEUED
      expect(events[0]!.status).toBe("QUEUED");
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1); // in order, none missing
      expect(events.some((e) => e.status === "RUNNING")).toBe(true);
      const last = events[events.length - 1]!;
      expect(last).toMatchObject({ status: "SUCCEEDED", progress: 1, itemsProcessed: 120, itemsTotal: 120, riskLevel: "CRITICAL" });
      const progress = events.map((e) => e.progress);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]!);

      const scan = await statusOf(cluster.a, "dora", scanId);
      expect(scan.findingsCount).toBe(scan.findings.totalCount);
      const types = new Set(scan.findings.edges.map((e) => e.node.type));
      expect(types).toEqual(new Set(["EMAIL", "BSN", "IBAN"]));
      for (const { node } of scan.findings.edges) {
        expect(node.maskedValue).not.toMatch(/123456782|NL91ABNA0417164300|jan\.\d+@example\.nl/);
        expect(node.location.line).toBe(1);
      }

      // Filters run on the server: the count and pages follow them.
      const emails = (await request(cluster.a.url, GetScanDocument, { id: scanId, type: ["EMAIL"] }, await token("dora"))).data!.scan!.findings;
      expect(emails.totalCount).toBe(120); // one address per document
      expect(scan.findings.totalCount).toBe(360); // email, BSN and IBAN in each of 120 documents
      expect(emails.edges.every((e) => e.node.type === "EMAIL")).toBe(true);
      const critical = (await request(cluster.a.url, GetScanDocument, { id: scanId, severity: ["CRITICAL"], first: 1 }, await token("dora"))).data!.scan!.findings;
      expect(critical.totalCount).toBe(120); // the BSNs
      expect(critical.edges[0]!.node.type).toBe("BSN");
      expect(critical.edges).toHaveLength(1);
      expect(critical.pageInfo.hasNextPage).toBe(critical.totalCount > 1);

      // Subscribing after the end: the current (terminal) state first, then complete.
      const late = await TestWsClient.connect(cluster.b.wsUrl, await token("dora"));
      late.subscribe("1", ScanProgressDocument, { scanId });
      const first = (await late.waitForMessage()) as Next;
      expect(first.type).toBe("next");
      expect((first.payload as { data: { scanProgress: ProgressFieldsFragment } }).data.scanProgress).toMatchObject({ status: "SUCCEEDED", seq: last.seq });
      expect(await late.waitForMessage()).toEqual({ type: "complete", id: "1" });
      late.close();
    }, 90_000);

    it("scans code files: secrets and PII with path and line; vendored files skipped; paths must be relative", async () => {
      const sessionId = await openSession(cluster.a, "cody");
      const t = await token("cody");
      const files = [
        { name: "src/config.ts", text: `export const region = "eu-west-1";\nexport const awsKey = "AKIAQ3EGUPXL5R7ZWN2D";\nconst password = "Zomer2024!";\n` },
        { name: "docs/contact.md", text: "# Contact\n\nMail support: helpdesk@example.nl\n" },
        { name: "node_modules/lib/index.js", text: `const key = "AKIAQ3EGUPXL5R7ZWN2D";\n` },
      ];
      const started = await request(cluster.b.url, StartCodeScanDocument, { input: { sessionId, files } }, t);
      expect(started.errors).toBeUndefined();
      const scanId = started.data!.startCodeScan.id;
      const done = await waitFor("the code scan to finish", () => statusOf(cluster.a, "cody", scanId), (s) => s.status === "SUCCEEDED");
      const found = done.findings.edges.map((e) => `${e.node.type}@${e.node.location.source}:${e.node.location.line}`).sort();
      expect(found).toEqual(["AWS_ACCESS_KEY@src/config.ts:2", "EMAIL@docs/contact.md:3", "PASSWORD@src/config.ts:3"]);
      expect(JSON.stringify(done)).not.toMatch(/AKIAQ3EGUPXL5R7ZWN2D|Zomer2024|helpdesk@/);
      expect(done.riskLevel).toBe("HIGH");

      for (const name of ["../etc/passwd", "/etc/passwd", "src/../../x.ts"]) {
        const bad = await request(cluster.a.url, StartCodeScanDocument, { input: { sessionId, files: [{ name, text: "x" }] } }, t);
        expect(codeOf(bad), name).toBe("BAD_USER_INPUT");
      }
    }, 60_000);

    it("refuses bad scan input with BAD_USER_INPUT naming the problem, and loses nothing", async () => {
      const sessionId = await openSession(cluster.a, "vera");
      const t = await token("vera");
      const cases: Array<[unknown[], RegExp]> = [
        [[], /must not be empty/],
        [[{ name: "a.txt", text: "x", base64: "eA==" }], /exactly one of text or base64/],
        [[{ name: "a.txt" }], /exactly one of text or base64/],
        [[{ name: "a.txt", base64: "not base64!" }], /not valid base64/],
        [[{ name: "", text: "x" }], /name/],
        [[{ name: "a.txt", text: "x" }, { name: "invoice\u202Efdp.exe", text: "x" }], /^documents\[1\]\.name must not contain control, bidi or invisible characters$/],
        [[{ name: "x".repeat(256), text: "x" }], /^documents\[0\]\.name must be at most 255 characters$/],
      ];
      for (const [docs, message] of cases) {
        const res = await request(cluster.a.url, StartDocumentScanDocument, { input: { sessionId, documents: docs as never } }, t);
        expect(codeOf(res), JSON.stringify(docs)).toBe("BAD_USER_INPUT");
        expect(res.errors![0]!.message).toMatch(message);
        if (/\.name /.test(res.errors![0]!.message)) expect(res.errors![0]!.extensions).toMatchObject({ field: expect.stringMatching(/^documents\[\d\]\.name$/) });
      }
      const list = await request(cluster.a.url, ListScansDocument, { sessionId }, t);
      expect(list.data!.scans.totalCount).toBe(0);
    });

    it("keeps another user's scans invisible: NOT_FOUND to cancel or subscribe, null to read, absent from lists", async () => {
      const sessionId = await openSession(cluster.a, "owen");
      const started = await request(cluster.a.url, StartDocumentScanDocument, { input: { sessionId, documents: documents(1, 100) } }, await token("owen"));
      const scanId = started.data!.startDocumentScan.id;
      const mallory = await token("mallory");
      expect((await request(cluster.b.url, GetScanDocument, { id: scanId }, mallory)).data!.scan).toBeNull();
      expect(codeOf(await request(cluster.b.url, CancelScanDocument, { id: scanId }, mallory))).toBe("NOT_FOUND");
      expect((await request(cluster.b.url, ListScansDocument, {}, mallory)).data!.scans.totalCount).toBe(0);
      expect(codeOf(await request(cluster.b.url, ListScansDocument, { sessionId }, mallory))).toBe("NOT_FOUND");
      expect(codeOf(await request(cluster.b.url, StartDocumentScanDocument, { input: { sessionId, documents: documents(1, 10) } }, mallory))).toBe("NOT_FOUND");
      const ws = await TestWsClient.connect(cluster.b.wsUrl, mallory);
      ws.subscribe("1", ScanProgressDocument, { scanId });
      // Refused at subscribe time: one result carrying the error, then complete; no event of the scan.
      const msg = (await ws.waitForMessage()) as { type: string; payload: { data: unknown; errors: Array<{ extensions: { code: string } }> } };
      expect(msg.type).toBe("next");
      expect(msg.payload.data ?? null).toBeNull();
      expect(msg.payload.errors[0]!.extensions.code).toBe("NOT_FOUND");
      expect(await ws.waitForMessage()).toEqual({ type: "complete", id: "1" });
      ws.close();
      // ...and the owner's scan is untouched.
      const mine = await waitFor("owen's scan to finish", () => statusOf(cluster.a, "owen", scanId), (s) => s.status === "SUCCEEDED");
      expect(mine.findingsCount).toBeGreaterThan(0);
    }, 30_000);

    it("holds the limits across instances: 3 per user, 8 running, the rest queued in order; cancel frees a slot", async () => {
      await target.lock();
      const users = ["u1", "u2", "u3", "u4"];
      const setups = await Promise.all(
        users.map(async (user, i) => {
          const server = i % 2 === 0 ? cluster.a : cluster.b;
          const sessionId = await openSession(server, user);
          const connectionId = await saveTarget(server, user, sessionId);
          return { user, sessionId, connectionId };
        }),
      );
      // 12 starts at once, spread over both instances.
      const results = await Promise.all(
        setups.flatMap((s) => [0, 1, 2].map((k) => startBlocking(k % 2 === 0 ? cluster.a : cluster.b, s.user, s.sessionId, s.connectionId))),
      );
      for (const r of results) expect(r.errors).toBeUndefined();
      // A fourth scan for one user is refused, on either instance.
      const over = await startBlocking(cluster.b, "u1", setups[0]!.sessionId, setups[0]!.connectionId);
      expect(codeOf(over)).toBe("SCAN_LIMIT_REACHED");

      const all = async () =>
        (await Promise.all(users.map(async (u) => (await request(cluster.a.url, ListScansDocument, { first: 10 }, await token(u))).data!.scans.edges.map((e) => ({ ...e.node, user: u }))))).flat();
      const settled = await waitFor("8 RUNNING", all, (scans) => scans.filter((s) => s.status === "RUNNING").length === 8);
      const queued = settled.filter((s) => s.status === "QUEUED");
      expect(queued).toHaveLength(4);
      expect(queued.map((s) => s.queuePosition).sort()).toEqual([1, 2, 3, 4]);
      // Arrival order: position 1 is the oldest queued scan.
      const byPosition = [...queued].sort((x, y) => x.queuePosition! - y.queuePosition!);
      for (let i = 1; i < byPosition.length; i++) expect(byPosition[i]!.createdAt >= byPosition[i - 1]!.createdAt).toBe(true);

      // A subscriber of the second queued scan sees its position move when the queue advances.
      const second = byPosition[1]!;
      const watcher = await TestWsClient.connect(cluster.a.wsUrl, await token(second.user));
      watcher.subscribe("q", ScanProgressDocument, { scanId: second.id });
      const before = await collect(watcher, "scanProgress", () => true);
      expect(before[0]).toMatchObject({ status: "QUEUED", queuePosition: 2 });

      // Cancel a RUNNING scan through A: it ends within a second and the first queued one starts.
      const victim = settled.find((s) => s.status === "RUNNING")!;
      const ws = await TestWsClient.connect(cluster.b.wsUrl, await token(victim.user));
      ws.subscribe("v", ScanProgressDocument, { scanId: victim.id });
      await collect(ws, "scanProgress", (e) => e.status === "RUNNING");
      const cancelled = await request(cluster.a.url, CancelScanDocument, { id: victim.id }, await token(victim.user));
      expect(cancelled.data!.cancelScan.status).toBe("CANCELLED");
      // The subscriber on the other instance hears it (bounded, not timed: a loaded machine is slow;
      // that the worker stops is proven by "cancelScan reaches the worker" below).
      const tail = await collect(ws, "scanProgress", (e) => TERMINAL.includes(e.status), 5_000);
      expect(tail[tail.length - 1]!.status).toBe("CANCELLED");
      expect(await ws.waitForMessage()).toEqual({ type: "complete", id: "v" });
      ws.close();
      const next = byPosition[0]!;
      await waitFor("the first queued scan to start", () => statusOf(cluster.a, next.user, next.id), (s) => s.status === "RUNNING", { timeoutMs: 5_000 });
      const moved = await collect(watcher, "scanProgress", (e) => e.queuePosition === 1, 5_000);
      expect(moved[moved.length - 1]).toMatchObject({ status: "QUEUED", queuePosition: 1 });
      expect(moved[moved.length - 1]!.seq).toBeGreaterThan(before[0]!.seq);
      watcher.close();
      const rest = await all();
      expect(rest.filter((s) => s.status === "RUNNING")).toHaveLength(8);
      expect(rest.filter((s) => s.status === "QUEUED").map((s) => s.queuePosition).sort()).toEqual([1, 2, 3]);

      // Cancel a QUEUED scan: at once; the ones behind it move up.
      const last = byPosition[3]!;
      const cq = await request(cluster.b.url, CancelScanDocument, { id: last.id }, await token(last.user));
      expect(cq.data!.cancelScan).toMatchObject({ status: "CANCELLED", queuePosition: null });
      // Cancelling a finished scan returns it unchanged.
      const again = await request(cluster.a.url, CancelScanDocument, { id: last.id }, await token(last.user));
      expect(again.data!.cancelScan.seq).toBe(cq.data!.cancelScan.seq);

      // Clean up: cancel everything still active.
      for (const s of await all()) {
        if (s.status === "RUNNING" || s.status === "QUEUED") await request(cluster.a.url, CancelScanDocument, { id: s.id }, await token(s.user));
      }
      await target.release();
    }, 120_000);

    it("cancelScan reaches the worker running the scan: its query on the scanned database ends at once", async () => {
      // The scan blocks on the locked table: no progress writes, so nothing but the cancel
      // broadcast can stop it soon (the heartbeat is SCAN_HEARTBEAT_INTERVAL=20s in these clusters).
      await target.lock();
      try {
        const sessionId = await openSession(cluster.a, "cate");
        const connectionId = await saveTarget(cluster.a, "cate", sessionId);
        const started = await startBlocking(cluster.b, "cate", sessionId, connectionId);
        expect(started.errors).toBeUndefined();
        const scanId = started.data!.startDatabaseScan.id;
        await waitFor("the scan to run", () => statusOf(cluster.a, "cate", scanId), (s) => s.status === "RUNNING");
        await waitFor("its query to wait on the locked table", () => target.blockedQueries(), (n) => n >= 1);

        const t0 = Date.now();
        const cancelled = await request(cluster.a.url, CancelScanDocument, { id: scanId }, await token("cate"));
        expect(cancelled.errors).toBeUndefined();
        expect(cancelled.data!.cancelScan.status).toBe("CANCELLED");
        await waitFor("the worker to stop (its query on the scanned database ends)", () => target.blockedQueries(), (n) => n === 0, { timeoutMs: 5_000, intervalMs: 50 });
        console.info(`cancelScan → the worker's query ended in ${Date.now() - t0} ms`);

        // With the table free again nothing moves: the scan stays as cancelled, with no findings.
        await target.release();
        const after = await statusOf(cluster.b, "cate", scanId);
        expect(after).toMatchObject({ status: "CANCELLED", seq: cancelled.data!.cancelScan.seq, findingsCount: 0, progress: cancelled.data!.cancelScan.progress });
      } finally {
        await target.release();
      }
    }, 60_000);

    it("a scan cancelled just after it starts, while a worker claims it, stays CANCELLED and no worker keeps scanning it", async () => {
      await target.lock();
      const ids: string[] = [];
      try {
        const user = "rita";
        const t = await token(user);
        const sessionId = await openSession(cluster.a, user);
        const connectionId = await saveTarget(cluster.a, user, sessionId);
        const refused: string[] = [];
        for (let i = 0; i < 15; i++) {
          const started = await startBlocking(cluster.b, user, sessionId, connectionId);
          // Cancelled scans do not count against the limit of 3: a refusal means some came back.
          if (started.errors) {
            refused.push(`start ${i + 1}: ${codeOf(started)}`);
            break;
          }
          ids.push(started.data!.startDatabaseScan.id);
          const cancelled = await request(cluster.a.url, CancelScanDocument, { id: ids.at(-1)! }, t);
          expect(cancelled.data!.cancelScan.status).toBe("CANCELLED");
        }
        const statuses = async () =>
          Object.fromEntries((await request(cluster.a.url, ListScansDocument, { sessionId, first: 100 }, t)).data!.scans.edges.map((e) => [e.node.id, e.node.status]));
        // A claim that lost the race must not bring a scan back to RUNNING (its query would wait on the table).
        const left = await waitFor("no scan query left on the scanned database", () => target.blockedQueries(), (n) => n === 0, { timeoutMs: 5_000 }).catch(
          (err: Error) => err.message,
        );
        expect({ refused, statuses: await statuses(), left }).toEqual({ refused: [], statuses: Object.fromEntries(ids.map((id) => [id, "CANCELLED"])), left: 0 });
      } finally {
        // Whatever came back must not hold slots for the tests that follow.
        for (const id of ids) await request(cluster.a.url, CancelScanDocument, { id }, await token("rita"));
        await target.release();
      }
    }, 60_000);

    it("lists scans by status and pages with after: newest first, the count and every page follow the filter", async () => {
      const user = "pia";
      const t = await token(user);
      const sessionId = await openSession(cluster.a, user);
      const created: string[] = []; // oldest first
      const succeeded: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await request(cluster.a.url, StartDocumentScanDocument, { input: { sessionId, documents: documents(1, 200) } }, t);
        expect(r.errors).toBeUndefined();
        created.push(r.data!.startDocumentScan.id);
        succeeded.push(r.data!.startDocumentScan.id);
        await waitFor("the document scan to finish", () => statusOf(cluster.a, user, created.at(-1)!), (s) => s.status === "SUCCEEDED");
      }
      // FAILED: nothing listens on port 1.
      const dead = await request(
        cluster.a.url,
        SaveDatabaseConnectionDocument,
        { input: { sessionId, name: "dead", engine: "POSTGRESQL", host: "127.0.0.1", port: 1, database: "x", user: "x", password: "x" } },
        t,
      );
      const failed = await startBlocking(cluster.a, user, sessionId, dead.data!.saveDatabaseConnection.id);
      expect(failed.errors).toBeUndefined();
      created.push(failed.data!.startDatabaseScan.id);
      await waitFor("the scan of a closed port to fail", () => statusOf(cluster.a, user, created.at(-1)!), (s) => s.status === "FAILED");
      await target.lock();
      try {
        const connectionId = await saveTarget(cluster.a, user, sessionId);
        // CANCELLED (once running: a cancel racing the claim has its own test), then one left RUNNING.
        const toCancel = await startBlocking(cluster.b, user, sessionId, connectionId);
        created.push(toCancel.data!.startDatabaseScan.id);
        await waitFor("the scan to run", () => statusOf(cluster.a, user, created.at(-1)!), (s) => s.status === "RUNNING");
        expect((await request(cluster.a.url, CancelScanDocument, { id: created.at(-1)! }, t)).data!.cancelScan.status).toBe("CANCELLED");
        const running = await startBlocking(cluster.b, user, sessionId, connectionId);
        created.push(running.data!.startDatabaseScan.id);
        await waitFor("the scan to run", () => statusOf(cluster.a, user, created.at(-1)!), (s) => s.status === "RUNNING");
        const [s1, s2, s3, s4, s5, f, c, r] = created as [string, string, string, string, string, string, string, string];

        const list = async (vars: { status?: Array<"QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED">; first?: number; after?: string }) => {
          const res = await request(cluster.b.url, ListScansDocument, vars, t);
          expect(res.errors).toBeUndefined();
          return res.data!.scans;
        };
        const ids = (page: Awaited<ReturnType<typeof list>>) => page.edges.map((e) => e.node.id);
        const all = await list({ first: 100 });
        expect(ids(all)).toEqual([r, c, f, s5, s4, s3, s2, s1]);
        expect(all.totalCount).toBe(8);
        expect(all.pageInfo.hasNextPage).toBe(false);
        expect(all.edges.map((e) => e.node.status)).toEqual(["RUNNING", "CANCELLED", "FAILED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);

        // Filters.
        const cases: Array<[Parameters<typeof list>[0]["status"], string[]]> = [
          [["SUCCEEDED"], [s5, s4, s3, s2, s1]],
          [["FAILED", "CANCELLED"], [c, f]],
          [["RUNNING"], [r]],
          [["QUEUED"], []],
          [["QUEUED", "RUNNING"], [r]],
        ];
        for (const [status, want] of cases) {
          const page = await list({ status, first: 100 });
          expect(ids(page), JSON.stringify(status)).toEqual(want);
          expect(page.totalCount, JSON.stringify(status)).toBe(want.length);
        }

        // Pages: each continues exactly after the previous one's endCursor; the count is the filter's.
        const walk = async (vars: { status?: Parameters<typeof list>[0]["status"]; first: number }) => {
          const pages: string[][] = [];
          const more: boolean[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await list({ ...vars, ...(after ? { after } : {}) });
            pages.push(ids(page));
            more.push(page.pageInfo.hasNextPage);
            expect(page.totalCount).toBe(vars.status ? 5 : 8);
            if (page.edges.length > 0) expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
            if (!page.pageInfo.hasNextPage || pages.length > 10) return { pages, more, last: page };
            after = page.pageInfo.endCursor!;
          }
        };
        const byThree = await walk({ first: 3 });
        expect(byThree.pages).toEqual([[r, c, f], [s5, s4, s3], [s2, s1]]);
        expect(byThree.more).toEqual([true, true, false]);
        const succeededByTwo = await walk({ status: ["SUCCEEDED"], first: 2 });
        expect(succeededByTwo.pages).toEqual([[s5, s4], [s3, s2], [s1]]);
        expect(succeededByTwo.more).toEqual([true, true, false]);
        // After the last one: an empty page.
        const past = await list({ first: 3, after: byThree.last.pageInfo.endCursor! });
        expect(ids(past)).toEqual([]);
        expect(past.pageInfo.hasNextPage).toBe(false);
        // A cursor that is not one of ours.
        expect(codeOf(await request(cluster.b.url, ListScansDocument, { first: 3, after: "not-a-cursor" }, t))).toBe("BAD_USER_INPUT");
        expect(succeeded).toEqual([s1, s2, s3, s4, s5]);

        await request(cluster.a.url, CancelScanDocument, { id: r }, t);
      } finally {
        await target.release();
      }
    }, 90_000);
  });
}
