import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, defaultMigrationsDir, defaultSchemaPath, diffSchemas, readMigrationsList } from "../../../src/platform/db/migrate.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
  logs: string | null;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("applyMigrations (WebAssembly schema engine)", () => {
  const databases: TestDatabase[] = [];
  let expected: { name: string; checksum: string }[];

  beforeAll(async () => {
    const list = await readMigrationsList(defaultMigrationsDir());
    expected = list.migrationDirectories.map((dir) => {
      if (dir.migrationFile.content.tag !== "ok") throw new Error(`unreadable ${dir.path}`);
      return { name: dir.path, checksum: createHash("sha256").update(dir.migrationFile.content.value).digest("hex") };
    });
    expect(expected.length).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await Promise.all(databases.map((db) => db.drop()));
  });

  async function emptyDatabase(): Promise<TestDatabase> {
    const db = await createTestDatabase({ empty: true });
    databases.push(db);
    return db;
  }

  it("applies every migration to an empty database and records it like `prisma migrate deploy`", async () => {
    const db = await emptyDatabase();
    const { applied } = await applyMigrations(db.url, silentLogger);
    expect(applied).toEqual(expected.map((m) => m.name));

    const rows = await query<MigrationRow>(db.url, "select * from _prisma_migrations order by migration_name");
    expect(rows.map((r) => ({ name: r.migration_name, checksum: r.checksum }))).toEqual(expected);
    for (const row of rows) {
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
    const tables = await query<{ table_name: string }>(
      db.url,
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(["User", "Session", "Scan", "ScanInput", "Finding", "DatabaseConnection", "PaymentRecord", "CapacitySample"]),
    );
  });

  it("is a no-op the second time", async () => {
    const db = await emptyDatabase();
    await applyMigrations(db.url, silentLogger);
    const before = await query<MigrationRow>(db.url, "select * from _prisma_migrations order by migration_name");
    const { applied } = await applyMigrations(db.url, silentLogger);
    expect(applied).toEqual([]);
    expect(await query<MigrationRow>(db.url, "select * from _prisma_migrations order by migration_name")).toEqual(before);
  });

  it("two instances applying at once: one applies, the other waits and finds nothing to do", async () => {
    const db = await emptyDatabase();
    const results = await Promise.all([applyMigrations(db.url, silentLogger), applyMigrations(db.url, silentLogger)]);
    const appliedLists = results.map((r) => r.applied).sort((a, b) => b.length - a.length);
    expect(appliedLists).toEqual([expected.map((m) => m.name), []]);
    const rows = await query<MigrationRow>(db.url, "select * from _prisma_migrations");
    expect(rows).toHaveLength(expected.length);
  });

  it("fails with the engine's message on a broken migration and records nothing as finished", async () => {
    const db = await emptyDatabase();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "dg-migrations-"));
    try {
      await fs.copyFile(path.join(defaultMigrationsDir(), "migration_lock.toml"), path.join(dir, "migration_lock.toml"));
      await fs.mkdir(path.join(dir, "20000101000000_broken"));
      await fs.writeFile(path.join(dir, "20000101000000_broken", "migration.sql"), "CREATE TABLE ok (id int);\nTHIS IS NOT SQL;\n");
      await expect(applyMigrations(db.url, silentLogger, { migrationsDir: dir })).rejects.toThrow(/schema engine failed applying migrations: .*syntax error/s);
      const rows = await query<MigrationRow>(db.url, "select * from _prisma_migrations");
      expect(rows).toHaveLength(1);
      expect(rows[0]?.finished_at).toBeNull();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe("diffSchemas", () => {
  it("finds no difference between a schema and itself", async () => {
    const schema = await fs.readFile(defaultSchemaPath(), "utf8");
    expect(await diffSchemas(schema, schema)).toBe("");
  });

  it("schema.prisma has no change that is missing from prisma/migrations (run `npm run migrate:create -- <name>`)", async () => {
    const [snapshot, schema] = await Promise.all([
      fs.readFile(path.join(defaultMigrationsDir(), ".schema-snapshot.prisma"), "utf8"),
      fs.readFile(defaultSchemaPath(), "utf8"),
    ]);
    expect(await diffSchemas(snapshot, schema)).toBe("");
  });

  it("writes SQL for an added column, without needing a database", async () => {
    const schema = await fs.readFile(defaultSchemaPath(), "utf8");
    const changed = schema.replace(/model Instance \{\n/, "model Instance {\n  region String?\n");
    expect(changed).not.toBe(schema);
    const sql = await diffSchemas(schema, changed);
    expect(sql).toMatch(/ALTER TABLE "Instance" ADD COLUMN\s+"region" TEXT;/);
  });

  it("from nothing: the full schema, without CREATE SCHEMA public", async () => {
    const schema = await fs.readFile(defaultSchemaPath(), "utf8");
    const sql = await diffSchemas(null, schema);
    expect(sql).toMatch(/CREATE TABLE "Session"/);
    expect(sql).not.toMatch(/CREATE SCHEMA/);
  });
});
