import { randomBytes } from "node:crypto";
import net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseAllowedHosts } from "../../../src/platform/net/host-policy.js";
import { scanDatabase, type DatabaseScanOptions, type SkippedTable } from "../../../src/modules/scans/scanners/database.scanner.js";
import { quotePgIdent, testDatabaseConnection, type DatabaseTarget } from "../../../src/platform/target-db/index.js";
import { adminUrl } from "../../support/database.js";
import { ScanAbortedError, type ScanProgressUpdate } from "../../../src/modules/scans/scanners/scanner.types.js";
import { bsns, expectScanError, luhnInvalid } from "../../support/scanner-fixtures.js";
import { waitFor } from "../../support/wait.js";
import { describeScannerBehaviour } from "./scanner.behaviour.js";

// Real PostgreSQL (no mocks): the test suite's own server (embedded, or DATABASE_URL's), so
// this runs on a fresh machine too; PG_HOST/PG_PORT/PG_USER/PG_PASSWORD point it elsewhere.
const suiteServer = new URL(adminUrl());
const HOST = process.env.PG_HOST ?? suiteServer.hostname;
const PORT = Number(process.env.PG_PORT ?? (suiteServer.port || 5432));
const ADMIN_USER = process.env.PG_USER ?? decodeURIComponent(suiteServer.username || "postgres");
const ADMIN_PASSWORD = process.env.PG_PASSWORD ?? decodeURIComponent(suiteServer.password);
const MAINTENANCE_DB = process.env.PG_HOST ? "postgres" : suiteServer.pathname.slice(1) || "postgres";
/** The test roles log in with a password, so the file works under trust and scram auth alike. */
const ROLE_PASSWORD = `pw-${randomBytes(6).toString("hex")}`;
const RUN = `${process.pid}_${randomBytes(4).toString("hex")}`;
const DB = `dg_scan_${RUN}`;
const NOSELECT_ROLE = `dg_noselect_${RUN}`;
const PARTIAL_ROLE = `dg_partial_${RUN}`;
const NOLOGIN_ROLE = `dg_nologin_${RUN}`;

const policy = parseAllowedHosts(undefined, { allowLoopback: true }); // development: the local server
const target = (over: Partial<DatabaseTarget> = {}): DatabaseTarget => ({
  engine: "POSTGRESQL",
  host: HOST,
  port: PORT,
  database: DB,
  user: ADMIN_USER,
  password: ADMIN_PASSWORD,
  ssl: false,
  ...over,
});

function ctx(signal: AbortSignal = new AbortController().signal) {
  const progress: ScanProgressUpdate[] = [];
  return { progress, ctx: { signal, hashKey: "test-hash-key", onProgress: (u: ScanProgressUpdate) => progress.push(u) } };
}

function scan(options: Partial<DatabaseScanOptions> = {}, over: Partial<DatabaseTarget> = {}, signal?: AbortSignal) {
  const c = ctx(signal);
  const skipped: SkippedTable[] = [];
  const promise = scanDatabase(target(over), { sampleSize: 100, hostPolicy: policy, onTableSkipped: (s) => skipped.push(s), ...options }, c.ctx);
  return { promise, progress: c.progress, skipped };
}

const ODD_SCHEMA = 'Odd "Schema" ü';
const INJECTION_TABLE = 'x"; DROP TABLE public.customers; --';
const LONG_TABLE = "klanten_ü" + "k".repeat(63 - Buffer.byteLength("klanten_ü")); // 63 bytes: NAMEDATALEN - 1
const LONG_COLUMN = "e-mail adres " + "ü".repeat(25); // 13 + 50 = 63 bytes
const QUOTED_COLUMN = 'e"mail"';

let admin: pg.Client; // on the scan database
let server: pg.Client; // on the maintenance database
const validBsns = bsns(true, 40);
const invalidBsns = bsns(false, 40);

beforeAll(async () => {
  server = new pg.Client({ host: HOST, port: PORT, user: ADMIN_USER, password: ADMIN_PASSWORD, database: MAINTENANCE_DB });
  await server.connect().catch((error: Error) => {
    throw new Error(`PostgreSQL is not reachable at ${HOST}:${PORT} (${error.message}): these tests need a real server`);
  });
  await server.query(`CREATE DATABASE ${quotePgIdent(DB)}`);
  admin = new pg.Client({ host: HOST, port: PORT, user: ADMIN_USER, password: ADMIN_PASSWORD, database: DB });
  await admin.connect();
  const q = (sql: string, values?: unknown[]) => admin.query(sql, values);
  await q(`CREATE TABLE public.customers (
    id serial PRIMARY KEY, email text, bsn text, iban text, creditcard text, telefoon text, opmerking text)`);
  for (let i = 0; i < 40; i++) {
    await q(`INSERT INTO public.customers (email, bsn, iban, creditcard, telefoon, opmerking) VALUES ($1, $2, $3, $4, $5, $6)`, [
      `klant${i}@example.com`,
      validBsns[i],
      "NL91ABNA0417164300",
      i % 2 === 0 ? "4111111111111111" : "5555555555554444",
      "+31612345678",
      i % 4 === 0 ? `bel +31612345678 of mail info${i}@example.org` : "geen bijzonderheden",
    ]);
  }
  // Decoys: look numeric and PII-shaped, are not.
  await q(`CREATE TABLE public.orders (
    id serial PRIMARY KEY, order_number text, ref_number text, version text, amount numeric(12,2), big bigint, sku text)`);
  for (let i = 0; i < 40; i++) {
    await q(`INSERT INTO public.orders (order_number, ref_number, version, amount, big, sku) VALUES ($1, $2, $3, $4, $5, $6)`, [
      `ORD-2024-${String(100000 + i)}`,
      invalidBsns[i],
      `1.${i}.3`,
      1234.56 + i,
      luhnInvalid(4111111111111112n + BigInt(i * 10)),
      `SKU-${i}-XL`,
    ]);
  }
  await q(`CREATE TABLE public.empty_table (id int, email text)`);
  await q(`CREATE TABLE public.typed (id int, bsn_number bigint, raw bytea, big_text text, late_text text, flag boolean, pos point)`);
  await q(`INSERT INTO public.typed VALUES (1, $1, convert_to('contact: bytea@example.com', 'UTF8'), $2, $3, true, point(1,2))`, [
    validBsns[0],
    "bigcell@example.com " + "x".repeat(200_000),
    "x".repeat(100_000) + " hidden@example.com",
  ]);
  await q(`CREATE SCHEMA ${quotePgIdent(ODD_SCHEMA)}`);
  await q(`CREATE TABLE ${quotePgIdent(ODD_SCHEMA)}.${quotePgIdent(LONG_TABLE)} (
    ${quotePgIdent(LONG_COLUMN)} text, ${quotePgIdent(QUOTED_COLUMN)} text, "with space" text)`);
  await q(`INSERT INTO ${quotePgIdent(ODD_SCHEMA)}.${quotePgIdent(LONG_TABLE)} VALUES ('a@example.nl', 'b@example.nl', 'NL91ABNA0417164300')`);
  await q(`CREATE TABLE public.${quotePgIdent(INJECTION_TABLE)} (${quotePgIdent('") FROM pg_class; --')} text)`);
  await q(`INSERT INTO public.${quotePgIdent(INJECTION_TABLE)} VALUES ('inj@example.com')`);
  await q(`CREATE TABLE public.locked_table (id int, email text)`);
  await q(`INSERT INTO public.locked_table VALUES (1, 'locked@example.com')`);
  await q(`CREATE VIEW public.customer_view AS SELECT email FROM public.customers`);

  await server.query(`CREATE ROLE ${quotePgIdent(NOSELECT_ROLE)} LOGIN PASSWORD '${ROLE_PASSWORD}'`);
  await server.query(`CREATE ROLE ${quotePgIdent(PARTIAL_ROLE)} LOGIN PASSWORD '${ROLE_PASSWORD}'`);
  await server.query(`CREATE ROLE ${quotePgIdent(NOLOGIN_ROLE)} NOLOGIN`);
  await q(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC`);
  await q(`GRANT SELECT (id, email) ON public.customers TO ${quotePgIdent(PARTIAL_ROLE)}`);
  await q(`GRANT SELECT ON public.orders TO ${quotePgIdent(PARTIAL_ROLE)}`);
});

afterAll(async () => {
  await admin?.end().catch(() => undefined);
  if (server) {
    await server.query(`DROP DATABASE IF EXISTS ${quotePgIdent(DB)} WITH (FORCE)`);
    for (const role of [NOSELECT_ROLE, PARTIAL_ROLE, NOLOGIN_ROLE]) {
      await server.query(`DROP ROLE IF EXISTS ${quotePgIdent(role)}`);
    }
    await server.end();
  }
});

describeScannerBehaviour({
  target,
  source: (table) => (table === LONG_TABLE ? `${ODD_SCHEMA}.${table}` : `public.${table}`),
  tableCount: 7, // public: customers, empty_table, injection, locked_table, orders, typed; plus the odd schema
  oddFindings: [
    [LONG_TABLE, LONG_COLUMN, "EMAIL"],
    [LONG_TABLE, QUOTED_COLUMN, "EMAIL"],
    [LONG_TABLE, "with space", "IBAN"],
    [INJECTION_TABLE, '") FROM pg_class; --', "EMAIL"],
  ],
  textlessColumns: ["flag", "pos"],
  // This server may trust 127.0.0.1, so a wrong password cannot fail here: an unknown role and one that may not log in do.
  wrongLogins: [{ user: `dg_nobody_${RUN}`, password: "wrong" }, { user: NOLOGIN_ROLE }],
  noSelect: { user: NOSELECT_ROLE, password: ROLE_PASSWORD },
  noSelectSeesEveryTable: true,
  versionPattern: /^PostgreSQL \d+/,
  lockTable: (table) => lockTable(`public.${table}`),
  countCustomers: async () => (await admin.query("SELECT count(*)::int AS n FROM public.customers")).rows[0].n as number,
});

describe("PostgreSQL: privileges per column", () => {
  it("a role with some privileges: readable tables and columns are scanned, the rest skipped", async () => {
    const run = scan({}, { user: PARTIAL_ROLE, password: ROLE_PASSWORD });
    const findings = await run.promise;
    expect(findings.map((f) => `${f.table}.${f.column}:${f.type}`)).toEqual(["customers.email:EMAIL"]);
    expect(run.skipped.map((s) => s.source)).not.toContain("public.customers");
    expect(run.skipped.map((s) => s.source)).not.toContain("public.orders");
    expect(run.skipped.length).toBe(5);
  });
});

describe("the server's own database is never scanned (issue 12.1)", () => {
  it.each([
    ["the development default", undefined],
    ["an operator who allows its host", "127.0.0.0/8,::1,localhost"],
  ])("%s: refused by any name of its host, before any socket opens; other databases there are not", async (_name, allowed) => {
    // This file's scan database stands in for "ours": protected, as DATABASE_URL's database is in the app.
    const hostPolicy = parseAllowedHosts(allowed, { allowLoopback: true, protectedDatabases: [{ host: HOST, port: PORT, database: DB }] });
    const connect = vi.spyOn(net.Socket.prototype, "connect");
    try {
      for (const host of ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]"]) {
        const c = ctx();
        const error = await expectScanError(scanDatabase(target({ host }), { sampleSize: 10, hostPolicy }, c.ctx), "HOST_NOT_ALLOWED");
        expect(error.message).toBe(
          host === "localhost" // a name is told nothing of what it resolved to
            ? "Database scans may not connect to localhost. If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS."
            : `Database scans may not connect to ${host}: it is the server's own database, which is never scanned.`,
        );
        expect(await testDatabaseConnection(target({ host, database: DB.toUpperCase() }), { hostPolicy })).toMatchObject({ ok: false, code: "HOST_NOT_ALLOWED" });
      }
      expect(connect).not.toHaveBeenCalled();
    } finally {
      connect.mockRestore();
    }
    expect(await testDatabaseConnection(target({ database: MAINTENANCE_DB }), { hostPolicy })).toMatchObject({ ok: true });
  });
});

describe("cancellation", () => {
  it("an abort while blocked on a lock cancels the query on the server and throws", async () => {
    const holder = await lockTable("public.locked_table");
    try {
      const controller = new AbortController();
      const run = scan({ statementTimeoutMs: 60_000 }, {}, controller.signal);
      const outcome = run.promise.then(
        () => null,
        (e: unknown) => e,
      );
      // Wait until the scanner's backend really waits for the lock.
      const blockedPid = await waitFor("the scanner to wait on the lock", async () => {
        const { rows } = await server.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dataguardian-scan' AND wait_event_type = 'Lock'`,
          [DB],
        );
        return rows[0]?.pid as number | undefined;
      }, (v) => v !== undefined, { timeoutMs: 10_000, intervalMs: 20 });
      expect(run.progress.at(-1)?.stage).toBe("sampling public.locked_table");
      const started = performance.now();
      controller.abort();
      const error = await outcome;
      const elapsed = performance.now() - started;
      console.log(`[pg] abort → ScanAbortedError in ${elapsed.toFixed(1)} ms`);
      expect(error).toBeInstanceOf(ScanAbortedError);
      // Within a second by construction (cancel budget 600 ms + settle 250 ms); printed, not asserted:
      // a loaded machine must not fail a wall-clock check.
      // The blocked statement is gone, and so are the scanner's connections.
      const { rows } = await server.query(
        `SELECT pid, state, query FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'dataguardian-scan%'`,
        [DB],
      );
      expect(rows).toEqual([]);
      const { rows: same } = await server.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [blockedPid]);
      expect(same).toEqual([]);
    } finally {
      await holder.release();
    }
  });

});

async function lockTable(table: string): Promise<{ release: () => Promise<void> }> {
  const client = new pg.Client({ host: HOST, port: PORT, user: ADMIN_USER, password: ADMIN_PASSWORD, database: DB });
  await client.connect();
  await client.query("BEGIN");
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return {
    release: async () => {
      await client.query("ROLLBACK").catch(() => undefined);
      await client.end();
    },
  };
}


