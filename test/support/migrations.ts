import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { applyMigrations, defaultMigrationsDir } from "../../src/platform/db/migrate.js";
import { silentLogger } from "../../src/platform/observability/logger.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

/**
 * A fresh database with every migration before `migration` applied, as an older release left
 * it: what a migration test fills with old rows before it applies the rest. Throws when
 * `migration` is not a folder of prisma/migrations.
 */
export async function databaseBefore(migration: string): Promise<TestDatabase> {
  const all = defaultMigrationsDir();
  const names = (await fs.readdir(all, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  if (!names.includes(migration)) throw new Error(`no migration ${migration} in ${all}`);
  const older = await fs.mkdtemp(path.join(os.tmpdir(), "dg-migrations-"));
  const db = await createTestDatabase({ empty: true });
  try {
    await fs.copyFile(path.join(all, "migration_lock.toml"), path.join(older, "migration_lock.toml"));
    for (const name of names.filter((n) => n < migration)) await fs.cp(path.join(all, name), path.join(older, name), { recursive: true });
    await applyMigrations(db.url, silentLogger, { migrationsDir: older });
    return db;
  } catch (error) {
    await db.drop();
    throw error;
  } finally {
    await fs.rm(older, { recursive: true, force: true });
  }
}

/** Runs `run` with a client of `url`, closed afterwards. */
export async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
