/**
 * The scan-name migration (issue 14, point 1) on a database that holds scans from before it:
 * the rows survive, read back unchanged with a NULL name, and new scans store a name.
 */
import { afterAll, expect, it } from "vitest";
import { applyMigrations } from "../../../src/platform/db/migrate.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import type { TestDatabase } from "../../support/database.js";
import { databaseBefore, withClient } from "../../support/migrations.js";

const MIGRATION = "20261201093322_scan_name";
const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

it("keeps older scans (name NULL) and stores names afterwards", async () => {
  // The migrations before this one, as an older release had them.
  const db = await databaseBefore(MIGRATION);
  databases.push(db);
  const before = await withClient(db.url, async (c) => {
    expect((await c.query(`select 1 from information_schema.columns where table_name = 'Scan' and column_name = 'name'`)).rowCount).toBe(0);
    await c.query(`insert into "User" (id) values ('alice')`);
    await c.query(`insert into "Session" (id, "ownerId", name, "expiresAt") values ('00000000-0000-4000-8000-000000000001', 'alice', 'HR', now() + interval '1 day')`);
    await c.query(
      `insert into "Scan" (id, "ownerId", "sessionId", kind, status, progress, "findingsCount", "finishedAt")
       values ('00000000-0000-4000-8000-0000000000a1', 'alice', '00000000-0000-4000-8000-000000000001', 'DOCUMENT', 'SUCCEEDED', 1, 3, now())`,
    );
    return (await c.query(`select id, kind::text, status::text, progress, "findingsCount", "createdAt", "finishedAt" from "Scan"`)).rows;
  });

  const { applied } = await applyMigrations(db.url, silentLogger);
  expect(applied).toContain(MIGRATION);
  await withClient(db.url, async (c) => {
    const after = await c.query(`select id, kind::text, status::text, progress, "findingsCount", "createdAt", "finishedAt", name from "Scan"`);
    expect(after.rows).toEqual(before.map((r) => ({ ...r, name: null })));
    await c.query(
      `insert into "Scan" (id, "ownerId", "sessionId", kind, name) values ('00000000-0000-4000-8000-0000000000a2', 'alice', '00000000-0000-4000-8000-000000000001', 'DATABASE', 'Local CRM')`,
    );
    const named = await c.query(`select name from "Scan" where id = '00000000-0000-4000-8000-0000000000a2'`);
    expect(named.rows[0]).toEqual({ name: "Local CRM" });
  });
}, 120_000);
