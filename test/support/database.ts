/**
 * One real PostgreSQL database per test file, cloned from the migrated template that
 * global-setup.ts builds (`CREATE DATABASE ... TEMPLATE`, tens of milliseconds).
 *
 * ```ts
 * let db: TestDatabase;
 * beforeAll(async () => { db = await createTestDatabase(); });
 * afterAll(() => db.drop());
 * ```
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

// Kept in step with global-setup.ts (not imported from it: that would load the embedded
// PostgreSQL package, and its exit hooks, into every test worker).
const TEST_DB_PREFIX = "dg_test_";

export interface TestDatabase {
  /** Connection URL of the new database (its own name in the path). */
  url: string;
  name: string;
  /** Drops the database, closing any connection still open to it. Idempotent. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /**
   * `true`: an empty database (no tables, no `_prisma_migrations`), for migration tests.
   * @default false (a clone of the migrated template)
   */
  empty?: boolean;
}

/** URL of the test server's maintenance database (CREATE/DROP DATABASE rights). */
export function adminUrl(): string {
  return inject("dbAdminUrl");
}

export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const admin = adminUrl();
  const template = options.empty ? "template0" : inject("dbTemplate");
  const name = `${TEST_DB_PREFIX}${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(5).toString("hex")}`;
  await withAdmin(admin, (client) =>
    client.query(`create database ${client.escapeIdentifier(name)} template ${client.escapeIdentifier(template)}`),
  );
  let dropping: Promise<void> | undefined;
  return {
    url: databaseUrl(admin, name),
    name,
    drop: () =>
      (dropping ??= withAdmin(admin, async (client) => {
        await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
      })),
  };
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}
