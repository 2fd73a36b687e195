import { Writable } from "node:stream";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "../../../src/platform/db/embedded.js";
import { createPool, poolStats, waitForDatabase, type PoolStats } from "../../../src/platform/db/pool.js";
import { silentLogger, type Logger } from "../../../src/platform/observability/logger.js";
import { adminUrl, createTestDatabase, type TestDatabase } from "../../support/database.js";

/** A real pino logger whose lines are kept for assertions. */
function capturingLogger(): { log: Logger; lines: () => { msg: string; [k: string]: unknown }[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  const log = pino({ level: "debug" }, stream);
  return {
    log,
    text: () => chunks.join(""),
    lines: () => chunks.join("").split("\n").filter(Boolean).map((line) => JSON.parse(line)),
  };
}

describe("createPool under load", () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 50, connectionTimeoutMillis: 20_000, log: silentLogger });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("holds exactly 50 connections under 200 concurrent slow queries, queues the rest, and drains to idle", async () => {
    const samples: PoolStats[] = [];
    let serverSideMax = 0;
    const monitor = new pg.Client({ connectionString: db.url });
    await monitor.connect();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(poolStats(pool));
        const { rows } = await monitor.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
        );
        serverSideMax = Math.max(serverSideMax, rows[0]?.n ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => pool.query("select pg_sleep(0.2)")));
    const elapsed = Date.now() - started;
    sampling = false;
    await sampler;
    await monitor.end();

    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    // 200 queries of 200 ms through 50 connections: at least 4 rounds.
    expect(elapsed).toBeGreaterThanOrEqual(780);
    expect(Math.max(...samples.map((s) => s.inUse))).toBe(50);
    expect(samples.every((s) => s.inUse <= 50 && s.size === 50)).toBe(true);
    expect(Math.max(...samples.map((s) => s.waiting))).toBeGreaterThan(0);
    expect(serverSideMax).toBeLessThanOrEqual(50);
    expect(serverSideMax).toBeGreaterThanOrEqual(45);

    const after = poolStats(pool);
    expect(after).toMatchObject({ size: 50, inUse: 0, waiting: 0 });
    expect(after.idle).toBeGreaterThan(0);
  });

  it("survives the server killing its idle connections (the 'error' listener), and keeps working", async () => {
    const capture = capturingLogger();
    const small = createPool({ connectionString: db.url, max: 3, log: capture.log });
    try {
      const clients = await Promise.all([small.connect(), small.connect()]);
      const pids = await Promise.all(clients.map(async (c) => (await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid));
      clients.forEach((c) => c.release());
      expect(poolStats(small).idle).toBe(2);

      const admin = new pg.Client({ connectionString: adminUrl() });
      await admin.connect();
      await admin.query("select pg_terminate_backend(pid) from unnest($1::int[]) as pid", [pids]);
      await admin.end();
      await expect.poll(() => capture.lines().filter((l) => l.msg === "idle PostgreSQL connection failed").length).toBe(2);

      const { rows } = await small.query<{ ok: number }>("select 1 as ok");
      expect(rows[0]?.ok).toBe(1);
    } finally {
      await small.end();
    }
  });

  it("applies statementTimeoutMs on the server", async () => {
    const strict = createPool({ connectionString: db.url, max: 1, statementTimeoutMs: 100, log: silentLogger });
    try {
      await expect(strict.query("select pg_sleep(1)")).rejects.toThrow(/statement timeout/);
    } finally {
      await strict.end();
    }
  });
});

describe("waitForDatabase", () => {
  it("returns at once when the database answers", async () => {
    const db = await createTestDatabase();
    const pool = createPool({ connectionString: db.url, max: 2, log: silentLogger });
    try {
      const capture = capturingLogger();
      await waitForDatabase(pool, { log: capture.log, timeoutMs: 5_000 });
      expect(capture.lines()).toEqual([]);
    } finally {
      await pool.end();
      await db.drop();
    }
  });

  it("gives up on a closed port within its bound, with a clear error and one log line per attempt, never the password", async () => {
    const port = await findFreePort();
    const pool = createPool({
      connectionString: `postgresql://app:s3cr3t-pw@127.0.0.1:${port}/dataguardian`,
      max: 2,
      log: silentLogger,
    });
    const capture = capturingLogger();
    const started = Date.now();
    try {
      await expect(waitForDatabase(pool, { log: capture.log, timeoutMs: 1_500, what: "PostgreSQL" })).rejects.toThrow(
        new RegExp(`^PostgreSQL at 127\\.0\\.0\\.1:${port}/dataguardian not reachable after \\d+ attempts in [\\d.]+s: ECONNREFUSED$`),
      );
    } finally {
      await pool.end();
    }
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(3_000);

    const lines = capture.lines().map((l) => l.msg);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toBe(`waiting for PostgreSQL at 127.0.0.1:${port}/dataguardian (attempt 1, next in 250ms): ECONNREFUSED`);
    expect(lines[1]).toBe(`waiting for PostgreSQL at 127.0.0.1:${port}/dataguardian (attempt 2, next in 500ms): ECONNREFUSED`);
    expect(capture.text()).not.toContain("s3cr3t-pw");
  });
});
