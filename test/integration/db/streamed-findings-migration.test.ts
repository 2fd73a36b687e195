/**
 * The streamed-findings migration (issue 10) on a database that holds scans and findings from
 * before it: the rows survive and read back; findings repeating one value on one line of one
 * document (a long line cut in two by the old chunking) merge into one row with their
 * occurrences summed, so the new unique key holds; a new repeat then merges through it.
 */
import { afterAll, expect, it } from "vitest";
import { applyMigrations } from "../../../src/platform/db/migrate.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import type { TestDatabase } from "../../support/database.js";
import { databaseBefore, withClient } from "../../support/migrations.js";

const MIGRATION = "20261201093043_scan_streamed_findings";
const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

const SCAN = "00000000-0000-4000-8000-0000000000a1";

it("keeps older scans and findings, merges old repeats, and merges new ones on the unique key", async () => {
  // The migrations before this one, as an older release had them.
  const db = await databaseBefore(MIGRATION);
  databases.push(db);
  const finding = (ordinal: number, line: number | null, hash: string | null, occ: number, column: string | null = null) =>
    `('00000000-0000-4000-8000-${String(ordinal).padStart(12, "0")}', '${SCAN}', 'alice', ${ordinal}, 'EMAIL', 'MEDIUM', 0.9, 'j***@x.nl', ${occ},
      ${hash === null ? "null" : `'${hash}'`}, 'a.txt', ${line === null ? "null" : line}, ${column === null ? "null" : `'t'`}, ${column === null ? "null" : `'${column}'`})`;
  await withClient(db.url, async (c) => {
    await c.query(`insert into "User" (id) values ('alice')`);
    await c.query(`insert into "Session" (id, "ownerId", name, "expiresAt") values ('00000000-0000-4000-8000-000000000001', 'alice', 'HR', now() + interval '1 day')`);
    await c.query(
      `insert into "Scan" (id, "ownerId", "sessionId", kind, status, progress, "findingsCount", "finishedAt")
       values ('${SCAN}', 'alice', '00000000-0000-4000-8000-000000000001', 'DOCUMENT', 'SUCCEEDED', 1, 5, now())`,
    );
    await c.query(
      `insert into "Finding" (id, "scanId", "ownerId", ordinal, type, severity, confidence, "maskedValue", occurrences, "valueHash", source, line, "table", "column")
       values ${[finding(0, 2, "h1", 1), finding(1, 2, "h1", 2), finding(2, 3, "h1", 1), finding(3, null, "h9", 4, "email"), finding(4, null, "h9", 5, "mail")].join(",")}`,
    );
  });

  const { applied } = await applyMigrations(db.url, silentLogger);
  expect(applied).toContain(MIGRATION);
  await withClient(db.url, async (c) => {
    const scan = await c.query(`select status::text, "findingsCount", "findingsNotStored", skipped from "Scan"`);
    expect(scan.rows).toEqual([{ status: "SUCCEEDED", findingsCount: 5, findingsNotStored: 0, skipped: null }]);
    const rows = async () =>
      (await c.query(`select ordinal, line, "valueHash", occurrences, "column" from "Finding" order by ordinal`)).rows;
    expect(await rows()).toEqual([
      { ordinal: 0, line: 2, valueHash: "h1", occurrences: 3, column: null }, // ordinal 1 merged into it
      { ordinal: 2, line: 3, valueHash: "h1", occurrences: 1, column: null },
      { ordinal: 3, line: null, valueHash: "h9", occurrences: 4, column: "email" }, // database findings: no line, kept apart
      { ordinal: 4, line: null, valueHash: "h9", occurrences: 5, column: "mail" },
    ]);
    await c.query(
      `insert into "Finding" (id, "scanId", "ownerId", ordinal, type, severity, confidence, "maskedValue", occurrences, "valueHash", source, line)
       values (gen_random_uuid(), '${SCAN}', 'alice', 9, 'EMAIL', 'MEDIUM', 0.95, 'j***@x.nl', 2, 'h1', 'a.txt', 3)
       on conflict ("scanId", source, line, "valueHash") where line is not null and "valueHash" is not null
       do update set occurrences = "Finding".occurrences + excluded.occurrences`,
    );
    expect((await rows()).find((r) => r.line === 3)).toEqual({ ordinal: 2, line: 3, valueHash: "h1", occurrences: 3, column: null });
  });
}, 120_000);

it("scan inputs stored in clear before inputs were sealed survive with keyId NULL (read as plain bytes)", async () => {
  const SEALED = "20261201100914_scan_input_sealed";
  const db = await databaseBefore(SEALED);
  databases.push(db);
  await withClient(db.url, async (c) => {
    await c.query(`insert into "User" (id) values ('alice')`);
    await c.query(`insert into "Session" (id, "ownerId", name, "expiresAt") values ('00000000-0000-4000-8000-000000000001', 'alice', 'HR', now() + interval '1 day')`);
    await c.query(`insert into "Scan" (id, "ownerId", "sessionId", kind) values ('${SCAN}', 'alice', '00000000-0000-4000-8000-000000000001', 'DOCUMENT')`);
    await c.query(`insert into "ScanInput" (id, "scanId", "ownerId", ordinal, name, content) values (gen_random_uuid(), '${SCAN}', 'alice', 0, 'a.txt', 'jan@voorbeeld.nl'::bytea)`);
  });
  const { applied } = await applyMigrations(db.url, silentLogger);
  expect(applied).toContain(SEALED);
  await withClient(db.url, async (c) => {
    const { rows } = await c.query(`select name, convert_from(content, 'UTF8') as text, "keyId" from "ScanInput"`);
    expect(rows).toEqual([{ name: "a.txt", text: "jan@voorbeeld.nl", keyId: null }]);
  });
}, 120_000);
