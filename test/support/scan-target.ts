import { randomBytes } from "node:crypto";
import pg from "pg";
import { adminUrl } from "./database.js";

/**
 * A real PostgreSQL database for DATABASE scans, on the test server (embedded or
 * DATABASE_URL): a `customers` table with seeded PII, and `lock()` to hold an ACCESS
 * EXCLUSIVE lock on it so that scans of it block until cancelled (a long-running scan
 * without any test-only code in the server).
 */
export interface ScanTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** Holds a lock on `customers` until `release()`; scans of the table block meanwhile. */
  lock(): Promise<void>;
  release(): Promise<void>;
  /**
   * Queries on the target database waiting for a lock (a scan blocked by `lock()`), read from
   * `pg_stat_activity`: what a scan's worker is doing, seen from the scanned database.
   */
  blockedQueries(): Promise<number>;
  drop(): Promise<void>;
}

export async function createScanTarget(): Promise<ScanTarget> {
  const admin = new URL(adminUrl());
  const database = `dg_target_${randomBytes(5).toString("hex")}`;
  const adminClient = new pg.Client({ connectionString: admin.toString() });
  await adminClient.connect();
  await adminClient.query(`CREATE DATABASE ${database}`);
  await adminClient.end();

  const url = new URL(admin.toString());
  url.pathname = `/${database}`;
  const seed = new pg.Client({ connectionString: url.toString() });
  await seed.connect();
  await seed.query(`CREATE TABLE customers (id serial PRIMARY KEY, email text, bsn text, iban text, note text)`);
  for (let i = 0; i < 20; i++) {
    await seed.query(`INSERT INTO customers (email, bsn, iban, note) VALUES ($1, $2, $3, $4)`, [
      `klant${i}@example.nl`,
      "123456782",
      "NL91ABNA0417164300",
      `order ${100000 + i}`,
    ]);
  }
  await seed.end();

  let locker: pg.Client | null = null;
  const release = async () => {
    if (!locker) return;
    const c = locker;
    locker = null;
    await c.query("ROLLBACK").catch(() => undefined);
    await c.end().catch(() => undefined);
  };
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    database,
    user: decodeURIComponent(url.username || "postgres"),
    password: decodeURIComponent(url.password || "unused-trust-auth"),
    async lock() {
      if (locker) return;
      locker = new pg.Client({ connectionString: url.toString() });
      await locker.connect();
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE");
    },
    release,
    async blockedQueries() {
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      try {
        const { rows } = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND wait_event_type = 'Lock'`,
          [database],
        );
        return rows[0]!.n;
      } finally {
        await c.end();
      }
    },
    async drop() {
      await release();
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await c.end();
    },
  };
}
