/**
 * Document scans end to end through the real server (issue 10), beside baselines run in the
 * same process on the same PostgreSQL:
 * - dense documents of 1, 3 and 10 MB (a distinct e-mail address and phone number on every
 *   line): scan time against PostgreSQL inserting the same number of finding rows by itself
 *   (one INSERT ... SELECT FROM generate_series into the same table, same indexes), the ratio,
 *   and the growth from 1 to 10 MB; `/healthz` max latency and the server's RSS growth;
 * - hostile inputs (200 KB of `<`, `<!--`, `<a x="`; a DOCX zip bomb, declared and lying; a
 *   dense-text PDF; `pwd=` repeated in a code file): outcome, time, `/healthz` max, RSS growth.
 * MAX_FINDINGS_PER_SCAN is raised to 1,000,000 so no dense document is truncated.
 * Prints figures; asserts nothing.
 *
 *   node --import @swc-node/register/esm-register bench/dense-documents.bench.ts [--sizes 1,3,10] [--hostile no]
 *   (DATABASE_URL=... to use a server instead of an embedded PostgreSQL)
 */
import os from "node:os";
import pg from "pg";
import { createLogger } from "../src/platform/observability/logger.js";
import { startServerProcess } from "../test/support/server-process.js";
import { benchDatabase, denseText, graphqlClient, watchServer } from "./server-bench.js";
import { makePdf, zipBomb } from "../test/unit/scanners/fixtures.js";

const log = createLogger({ level: "warn", name: "bench" });
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const sizesMb = arg("sizes", "1,3,10").split(",").map(Number);
const hostileToo = arg("hostile", "yes") !== "no"; // --hostile no: the dense documents only

// ---- a fresh migrated database and a server on it ----------------------------------------------
const db = await benchDatabase("dense", log);
const sql = new pg.Client({ connectionString: db.url });
await sql.connect();

const server = await startServerProcess({ DATABASE_URL: db.url, MAX_FINDINGS_PER_SCAN: "1000000" });
const gql = graphqlClient(server, await server.token("bench"));

interface ScanResult {
  id: string;
  status: string;
  findingsCount: number;
  findingsNotStored: number;
  skipped: Array<{ name: string; code: string; reason: string }>;
  error: { code: string; message: string } | null;
}

async function scan(kind: "document" | "code", docs: Array<{ name: string; text?: string; base64?: string }>): Promise<{ ms: number; scan: ScanResult }> {
  const { openSession } = await gql<{ openSession: { id: string } }>(`mutation { openSession(input: { name: "bench" }) { id } }`);
  const t0 = performance.now();
  const mutation =
    kind === "document"
      ? `mutation S($i: DocumentScanInput!) { r: startDocumentScan(input: $i) { id } }`
      : `mutation S($i: CodeScanInput!) { r: startCodeScan(input: $i) { id } }`;
  const input = kind === "document" ? { sessionId: openSession.id, documents: docs } : { sessionId: openSession.id, files: docs };
  const { r } = await gql<{ r: { id: string } }>(mutation, { i: input });
  for (;;) {
    const { scan: s } = await gql<{ scan: ScanResult }>(
      `query Q($id: ID!) { scan(id: $id) { id status findingsCount findingsNotStored skipped { name code reason } error { code message } } }`,
      { id: r.id },
    );
    if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(s.status)) return { ms: Math.round(performance.now() - t0), scan: s };
    await new Promise((res) => setTimeout(res, 25));
  }
}


/** PostgreSQL alone: `n` finding rows into the same table in one statement (the floor). */
async function insertFloor(n: number): Promise<number> {
  const { rows } = await sql.query<{ id: string; owner: string }>(`select id::text, "ownerId" as owner from "Scan" limit 1`);
  const scanRow = rows[0]!;
  const t0 = performance.now();
  await sql.query(
    `insert into "Finding" (id, "scanId", "ownerId", ordinal, type, severity, confidence, "maskedValue", occurrences, "valueHash", source, line)
     select gen_random_uuid(), $1::uuid, $2, 1000000000 + g, 'EMAIL', 'MEDIUM', 0.9, 'k***@voorbeeld.nl', 1, md5(g::text) || md5((g + 1)::text), 'floor.txt', g
     from generate_series(1, $3::int) g`,
    [scanRow.id, scanRow.owner, n],
  );
  const ms = performance.now() - t0;
  await sql.query(`delete from "Finding" where source = 'floor.txt'`);
  return Math.round(ms);
}

// ---- hostile inputs ------------------------------------------------------------------------------

/**
 * A PDF of `lines` dense text lines (6 pt), as many pages as they need: pdf.js extracts only
 * text placed on a page, so a single page of 9,000 lines gave about 120 lines' findings.
 */
function densePdf(lines: number): Buffer {
  const text = Array.from({ length: lines }, (_, i) => `k${i}.de.vries@voorbeeld.nl 06-${String(10_000_000 + i).slice(-8)} NL91ABNA0417164300`);
  return Buffer.from(makePdf(text, { fontSize: 6, leading: 7 }));
}

// ---- run -----------------------------------------------------------------------------------------
console.log(`dense documents (cpus ${os.availableParallelism()}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`);
// Warm-up: threads start, phone metadata loads.
await scan("document", [{ name: "warm.txt", text: denseText(50_000) }]);
const dense: Array<{ mb: number; ms: number; floorMs: number; findings: number }> = [];
for (const mb of sizesMb) {
  const text = denseText(mb * 1_000_000);
  const stop = watchServer(server);
  const { ms, scan: s } = await scan("document", [{ name: `dense-${mb}mb.txt`, text }]);
  const w = await stop();
  const floorMs = await insertFloor(s.findingsCount);
  dense.push({ mb, ms, floorMs, findings: s.findingsCount });
  console.log(
    `  ${mb} MB: ${s.status} ${s.findingsCount} findings (${s.findingsNotStored} not stored) in ${ms} ms; PostgreSQL alone ${floorMs} ms -> ratio ${(ms / floorMs).toFixed(1)}x; ` +
      `${Math.round(s.findingsCount / (ms / 1000))} findings/s; /healthz max ${w.healthzMaxMs} ms (${w.healthzSamples} probes), server event-loop lag max ${w.loopMs} ms; RSS +${Math.round(w.rssGrowthMiB)} MB`,
  );
}
if (dense.length >= 2) {
  const a = dense[0]!;
  const b = dense[dense.length - 1]!;
  console.log(`  growth ${a.mb} -> ${b.mb} MB: time x${(b.ms / a.ms).toFixed(1)} for size x${(b.mb / a.mb).toFixed(1)} (findings x${(b.findings / a.findings).toFixed(1)})`);
}

console.log("hostile inputs");
const hostile: Array<{ what: string; kind: "document" | "code"; docs: () => Array<{ name: string; text?: string; base64?: string }> }> = [
  { what: "200 KB of '<' (page.html)", kind: "document", docs: () => [{ name: "page.html", text: "<".repeat(200_000) }] },
  { what: "200 KB of '<!--' (page.html)", kind: "document", docs: () => [{ name: "page.html", text: "<!--".repeat(50_000) }] },
  { what: `200 KB of '<a x="' (page.html)`, kind: "document", docs: () => [{ name: "page.html", text: '<a x="'.repeat(33_000) }] },
  { what: "DOCX zip bomb, 256 MiB declared", kind: "document", docs: () => [{ name: "bomb.docx", base64: zipBomb(256 * 1024 * 1024).toString("base64") }] },
  { what: "DOCX zip bomb, 256 MiB lying (declares 1 KB)", kind: "document", docs: () => [{ name: "liar.docx", base64: zipBomb(256 * 1024 * 1024, { declare: 1000 }).toString("base64") }] },
  { what: "dense-text PDF", kind: "document", docs: () => [{ name: "dense.pdf", base64: densePdf(9_000).toString("base64") }] },
  { what: "code file of 'pwd=' x 16384 on 8 lines", kind: "code", docs: () => [{ name: "src/x.env", text: Array.from({ length: 8 }, () => "pwd=".repeat(16_384)).join("\n") }] },
];
for (const h of hostileToo ? hostile : []) {
  const docs = h.docs();
  const bytes = docs.reduce((n, d) => n + (d.text ? Buffer.byteLength(d.text) : Buffer.from(d.base64!, "base64").length), 0);
  const stop = watchServer(server);
  const { ms, scan: s } = await scan(h.kind, docs);
  const w = await stop();
  const outcome = s.skipped.length ? `skipped ${s.skipped.map((k) => `${k.code}: ${k.reason}`).join("; ")}` : `${s.findingsCount} findings`;
  console.log(`  ${h.what} (${Math.round(bytes / 1024)} KB): ${s.status} in ${ms} ms, ${outcome}; /healthz max ${w.healthzMaxMs} ms, event-loop lag max ${w.loopMs} ms; RSS +${Math.round(w.rssGrowthMiB)} MB`);
}

await server.stop();
await sql.end();
await db.drop();
