/**
 * The scan-name migration (issue 14, point 1) on a database that holds scans from before it:
 * the rows survive, read back unchanged with a NULL name, and new scans store a name.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { applyMigrations, defaultMigrationsDir } from "../../../src/platform/db/migrate.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";

const MIGRATION = "20261201093322_scan_name";
const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function withClient<T>(url: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

it("keeps older scans (name NULL) and stores names afterwards", async () => {
  const all = defaultMigrationsDir();
  const names = (await fs.readdir(all, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  expect(names).toContain(MIGRATION);
  // The migrations before this one, as an older release had them.
  const older = await fs.mkdtemp(path.join(os.tmpdir(), "dg-migrations-"));
  await fs.copyFile(path.join(all, "migration_lock.toml"), path.join(older, "migration_lock.toml"));
  for (const name of names.filter((n) => n < MIGRATION)) await fs.cp(path.join(all, name), path.join(older, name), { recursive: true });

  const db = await createTestDatabase({ empty: true });
  databases.push(db);
  await applyMigrations(db.url, silentLogger, { migrationsDir: older });
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
  await fs.rm(older, { recursive: true, force: true });
}, 120_000);
