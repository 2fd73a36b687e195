/**
 * Resource isolation of scans over the real server (issue 10): a zip-bomb DOCX is skipped
 * with a reason while another document of the same scan is scanned; past
 * MAX_FINDINGS_PER_SCAN a scan succeeds marked truncated; a cancel mid-insert stops writes
 * and CPU within a second; a runner that fails ends FAILED once, at once, not WORKER_LOST.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";
import { zipBomb } from "../unit/scanners/fixtures.js";

const SCAN = `query Scan($id: ID!) { scan(id: $id) {
  id status findingsCount findingsTruncated findingsNotStored itemsProcessed itemsTotal
  error { code message } skipped { name code reason }
  findings(first: 100) { totalCount edges { node { type occurrences location { source line } } } }
} }`;
const OPEN = `mutation { openSession(input: { name: "iso" }) { id } }`;
const START = `mutation Start($input: DocumentScanInput!) { startDocumentScan(input: $input) { id status } }`;
const CANCEL = `mutation Cancel($id: ID!) { cancelScan(id: $id) { id status } }`;

interface ScanView {
  id: string;
  status: string;
  findingsCount: number;
  findingsTruncated: boolean;
  findingsNotStored: number;
  itemsProcessed: number;
  itemsTotal: number | null;
  error: { code: string; message: string } | null;
  skipped: Array<{ name: string; code: string; reason: string }>;
  findings: { totalCount: number; edges: Array<{ node: { type: string; occurrences: number; location: { source: string; line: number } } }> };
}


/** `n` lines, each with a distinct e-mail address and phone number. */
export function denseText(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`klant ${i}: k${i}.de.vries@voorbeeld.nl tel 06-${String(10_000_000 + i).slice(-8)}`);
  return lines.join("\n");
}

/** CPU seconds (user + system) this process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

describe("scan resource isolation (real server)", () => {
  let db: TestDatabase;
  let small: ServerProcess;
  let sql: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    small = await startServerProcess({ DATABASE_URL: db.url, MAX_DOCUMENT_BYTES: "1mb", MAX_FINDINGS_PER_SCAN: "1000", SCAN_PROGRESS_INTERVAL: "50ms" });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await small?.stop();
    await db?.drop();
  });

  async function start(server: ServerProcess, user: string, documents: Array<{ name: string; text?: string; base64?: string }>) {
    const t = await server.token(user);
    const sessionId = ((await request(server.url, OPEN, {}, t)).data as { openSession: { id: string } }).openSession.id;
    const res = await request(server.url, START, { input: { sessionId, documents } }, t);
    expect(res.errors).toBeUndefined();
    return { t, id: (res.data as { startDocumentScan: { id: string } }).startDocumentScan.id };
  }
  const view = async (server: ServerProcess, t: string, id: string) => {
    const res = await request(server.url, SCAN, { id }, t);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return (res.data as { scan: ScanView }).scan;
  };
  const ended = (s: ScanView) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(s.status);

  it("a zip-bomb DOCX (declared and lying) is skipped with a reason; the other document of the scan is scanned", async () => {
    const honest = zipBomb(20 * 1024 * 1024); // 20 MiB of XML: over 4 x MAX_DOCUMENT_BYTES (4 MiB)
    const lying = zipBomb(20 * 1024 * 1024, { declare: 1000 }); // says 1000 bytes
    expect(honest.length).toBeLessThan(64 * 1024);
    const { t, id } = await start(small, "bomb", [
      { name: "bomb.docx", base64: honest.toString("base64") },
      { name: "liar.docx", base64: lying.toString("base64") },
      { name: "brief.txt", text: "Beste,\nmijn adres is jan@voorbeeld.nl\n" },
    ]);
    const done = await waitFor("the scan to end", () => view(small, t, id), ended, { timeoutMs: 60_000 });
    expect(done.status).toBe("SUCCEEDED");
    expect(done.skipped.map((s) => [s.name, s.code])).toEqual([
      ["bomb.docx", "TOO_LARGE"],
      ["liar.docx", "TOO_LARGE"],
    ]);
    expect(done.skipped[0]!.reason).toMatch(/bomb\.docx: declares more than 4 MB when unpacked/);
    expect(done.skipped[1]!.reason).toMatch(/liar\.docx: inflates to more than 4 MB/);
    // Reasons reach users: they speak of files and sizes, never of settings (issue 14).
    for (const { reason } of done.skipped) expect(reason).not.toMatch(/[A-Z]{2,}_[A-Z_]+/);
    expect(done.findings.edges.map((e) => `${e.node.type}@${e.node.location.source}:${e.node.location.line}`)).toEqual(["EMAIL@brief.txt:2"]);
    expect(done.itemsProcessed).toBe(3);
  }, 90_000);

  it("past MAX_FINDINGS_PER_SCAN the scan SUCCEEDS, truncated, saying how many values were not stored", async () => {
    const { t, id } = await start(small, "many", [{ name: "klanten.txt", text: denseText(1500) }]); // 3000 distinct values
    const done = await waitFor("the scan to end", () => view(small, t, id), ended, { timeoutMs: 60_000 });
    expect(done).toMatchObject({ status: "SUCCEEDED", findingsCount: 1000, findingsTruncated: true, findingsNotStored: 2000, error: null });
    expect(done.findings.totalCount).toBe(1000);
    const { rows } = await sql.query<{ n: string }>(`select count(*) as n from "Finding" where "scanId" = $1`, [id]);
    expect(Number(rows[0]!.n)).toBe(1000);
  }, 90_000);

  it("a repeat of one value on one line, split across detection chunks and batches, is one finding with its occurrences", async () => {
    // One line longer than a detection chunk (64 KiB): the same address on both sides of the cut.
    const line = `a@voorbeeld.nl ${"x".repeat(70_000)} a@voorbeeld.nl`;
    const { t, id } = await start(small, "long", [{ name: "long.txt", text: `kop\n${line}\n` }]);
    const done = await waitFor("the scan to end", () => view(small, t, id), ended, { timeoutMs: 60_000 });
    expect(done.status).toBe("SUCCEEDED");
    expect(done.findings.edges.map((e) => [e.node.type, e.node.location.line, e.node.occurrences])).toEqual([["EMAIL", 2, 2]]);
    expect(done.findingsCount).toBe(1);
  }, 60_000);

  it("a runner that fails (its findings refused by the database) ends FAILED once, at once, with a readable error; not WORKER_LOST", async () => {
    await sql.query(`alter table "Finding" add constraint iso_no_email check (type <> 'EMAIL') not valid`);
    try {
      const { t, id } = await start(small, "fail", [{ name: "a.txt", text: "mail jan@voorbeeld.nl\n" }]);
      const done = await waitFor("the scan to end", () => view(small, t, id), ended, { timeoutMs: 30_000 });
      expect(done.status).toBe("FAILED");
      expect(done.error?.code).toBe("SCAN_FAILED");
      expect(done.error?.message).toMatch(/unexpected error/);
      const { rows } = await sql.query<{ attempts: number }>(`select attempts from "Scan" where id = $1`, [id]);
      expect(rows[0]!.attempts).toBe(1); // not retried
    } finally {
      await sql.query(`alter table "Finding" drop constraint iso_no_email`);
    }
  }, 60_000);
});

describe("cancel mid-insert (real server, default limits)", () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let sql: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServerProcess({ DATABASE_URL: db.url, SCAN_PROGRESS_INTERVAL: "50ms" });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await server?.stop();
    await db?.drop();
  });

  it("cancelScan while findings are being written: CANCELLED at once, no finding written and no CPU used a second later", async () => {
    const t = await server.token("cancel");
    const sessionId = ((await request(server.url, OPEN, {}, t)).data as { openSession: { id: string } }).openSession.id;
    const text = denseText(140_000); // ~7 MB, 280,000 values
    const res = await request(server.url, START, { input: { sessionId, documents: [{ name: "dense.txt", text }] } }, t);
    expect(res.errors).toBeUndefined();
    const id = (res.data as { startDocumentScan: { id: string } }).startDocumentScan.id;
    const count = async () => Number((await sql.query<{ n: string }>(`select count(*) as n from "Finding" where "scanId" = $1`, [id])).rows[0]!.n);
    await waitFor("findings being written", count, (n) => n >= 2000, { timeoutMs: 60_000, intervalMs: 20 });

    const cancelled = await request(server.url, CANCEL, { id }, t);
    expect((cancelled.data as { cancelScan: { status: string } }).cancelScan.status).toBe("CANCELLED");
    await new Promise((r) => setTimeout(r, 1000));
    const afterOneSecond = await count();
    const cpu0 = cpuSeconds(server.child.pid!);
    await new Promise((r) => setTimeout(r, 1500));
    const cpuUsed = cpuSeconds(server.child.pid!) - cpu0;
    expect(await count()).toBe(afterOneSecond); // no write after the first second
    expect(afterOneSecond).toBeLessThan(280_000);
    expect(cpuUsed).toBeLessThan(0.75); // the scan's threads were stopped, not left detecting (1.5 s window)
    const { rows } = await sql.query<{ status: string }>(`select status from "Scan" where id = $1`, [id]);
    expect(rows[0]!.status).toBe("CANCELLED");
  }, 120_000);
});
