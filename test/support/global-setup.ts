/**
 * Vitest global setup: one PostgreSQL server for the whole run and a migrated template
 * database that every test file clones (graphile/worker's pattern, see STYLE.md).
 *
 * - `DATABASE_URL` set: its server is used; the URL must allow CREATE DATABASE (the
 *   database it names is only used for administration).
 * - unset: an embedded PostgreSQL in a fresh temp directory, removed at teardown.
 *
 * The template is `dg_tpl_<hash of prisma/migrations>`: built once (under an advisory lock, so
 * parallel runs against the same server do not race) and reused by later runs while the
 * migrations are unchanged. Test files get the admin URL and template name via `inject`.
 */
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "../../src/platform/db/embedded.js";
import { applyMigrations, defaultMigrationsDir, readMigrationsList } from "../../src/platform/db/migrate.js";
import { createLogger } from "../../src/platform/observability/logger.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a maintenance database on the test server (CREATE/DROP DATABASE rights). */
    dbAdminUrl: string;
    /** Name of the migrated template database to clone. */
    dbTemplate: string;
  }
}

/** Test databases are named `dg_test_<unix seconds, base 36>_<random>` so stale ones can be aged. */
const TEST_DB_PREFIX = "dg_test_";
const STALE_AFTER_SECONDS = 60 * 60;
/** Serialises template builds across concurrent runs on one server. */
const TEMPLATE_LOCK_KEY = 5_147_720_392;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = createLogger({ name: "test-db", level: process.env.TEST_LOG_LEVEL ?? "warn" });
  let embedded: EmbeddedPostgresHandle | undefined;
  let tempDir: string | undefined;
  let adminUrl = process.env.DATABASE_URL;

  const teardown = async (): Promise<void> => {
    await embedded?.stop();
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
  };

  try {
    if (!adminUrl) {
      tempDir = await fs.mkdtemp(path.join(os.tmpdir(), "dg-test-pg-"));
      const t = Date.now();
      embedded = await startEmbeddedPostgres({ dataDir: tempDir, log, ephemeral: true, database: "dg_admin" });
      adminUrl = embedded.adminConnectionString;
      log.info({ ms: Date.now() - t }, "test PostgreSQL (embedded) started");
    }
    const template = `dg_tpl_${await migrationsHash(defaultMigrationsDir())}`;
    await ensureTemplate(adminUrl, template, log);
    await dropStaleTestDatabases(adminUrl, log);
    project.provide("dbAdminUrl", adminUrl);
    project.provide("dbTemplate", template);
  } catch (error) {
    await teardown().catch(() => undefined);
    throw error;
  }
  return teardown;
}

/** First 8 hex digits of a SHA-256 over every migration's name and SQL, and the lock file. */
export async function migrationsHash(migrationsDir: string): Promise<string> {
  const list = await readMigrationsList(migrationsDir);
  const hash = createHash("sha256");
  hash.update(list.lockfile.content ?? "");
  for (const dir of list.migrationDirectories) {
    hash.update(`\0${dir.path}\0`);
    hash.update(dir.migrationFile.content.tag === "ok" ? dir.migrationFile.content.value : "<unreadable>");
  }
  return hash.digest("hex").slice(0, 8);
}

/** Builds `<template>_build`, migrates it, then renames it: a template that exists is complete. */
async function ensureTemplate(adminUrl: string, template: string, log: ReturnType<typeof createLogger>): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  admin.on("error", () => undefined);
  await admin.connect();
  try {
    await admin.query("select pg_advisory_lock($1)", [TEMPLATE_LOCK_KEY]);
    const exists = await admin.query("select 1 from pg_database where datname = $1", [template]);
    if (exists.rowCount) return;
    const building = `${template}_build`;
    const t = Date.now();
    await admin.query(`drop database if exists ${admin.escapeIdentifier(building)} with (force)`);
    await admin.query(`create database ${admin.escapeIdentifier(building)} template template0 encoding 'UTF8'`);
    await applyMigrations(databaseUrl(adminUrl, building), log);
    await admin.query(`alter database ${admin.escapeIdentifier(building)} rename to ${admin.escapeIdentifier(template)}`);
    log.info({ template, ms: Date.now() - t }, "test template database built");
  } finally {
    await admin.query("select pg_advisory_unlock($1)", [TEMPLATE_LOCK_KEY]).catch(() => undefined);
    await admin.end();
  }
}

/** Drops `dg_test_*` databases left by runs that crashed more than an hour ago. */
async function dropStaleTestDatabases(adminUrl: string, log: ReturnType<typeof createLogger>): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  admin.on("error", () => undefined);
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>("select datname from pg_database where datname like 'dg\\_test\\_%'");
    const now = Date.now() / 1000;
    for (const { datname } of rows) {
      const created = Number.parseInt(datname.slice(TEST_DB_PREFIX.length).split("_")[0] ?? "", 36);
      if (Number.isFinite(created) && now - created < STALE_AFTER_SECONDS) continue;
      await admin.query(`drop database if exists ${admin.escapeIdentifier(datname)} with (force)`).then(
        () => log.info({ database: datname }, "dropped stale test database"),
        (error: Error) => log.warn({ database: datname, err: { message: error.message } }, "could not drop stale test database"),
      );
    }
  } finally {
    await admin.end();
  }
}

/** The same server and credentials, another database. */
function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}
