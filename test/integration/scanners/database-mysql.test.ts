import { randomBytes } from "node:crypto";
import net from "node:net";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseAllowedHosts } from "../../../src/platform/net/host-policy.js";
import { scanDatabase, type DatabaseScanOptions, type SkippedTable } from "../../../src/modules/scans/scanners/database.scanner.js";
import { quoteMysqlIdent, testDatabaseConnection, type DatabaseTarget } from "../../../src/platform/target-db/index.js";
import {
  ScanAbortedError,
  type ScanFinding,
  type ScanProgressUpdate,
} from "../../../src/modules/scans/scanners/scanner.types.js";
import { bsns, expectScanError, luhnInvalid } from "../../support/scanner-fixtures.js";
import { waitFor } from "../../support/wait.js";
import { findFreePort } from "../../../src/platform/db/embedded.js";

// Real MariaDB/MySQL (no mocks): MYSQL_HOST/MYSQL_PORT/MYSQL_USER/MYSQL_PASSWORD override.
// With no server answering, the file is skipped with one line saying so (a fresh machine has
// none), unless REQUIRE_MYSQL=1 (CI, where MariaDB runs): then the missing server fails it.
// SKIP_MYSQL_TESTS=1 skips it outright.
const HOST = process.env.MYSQL_HOST ?? "127.0.0.1";
const PORT = Number(process.env.MYSQL_PORT ?? 3306);
const reachable = await new Promise<boolean>((resolve) => {
  const socket = net.connect({ host: HOST, port: PORT, timeout: 1_000 });
  socket.once("connect", () => (socket.destroy(), resolve(true)));
  socket.once("error", () => resolve(false));
  socket.once("timeout", () => (socket.destroy(), resolve(false)));
});
if (!reachable && process.env.REQUIRE_MYSQL === "1") throw new Error(`REQUIRE_MYSQL=1 but no MariaDB/MySQL answers at ${HOST}:${PORT}`);
const SKIP = process.env.SKIP_MYSQL_TESTS === "1" || !reachable;
if (SKIP) console.warn(`[skip] database-mysql.test.ts: ${reachable ? "SKIP_MYSQL_TESTS=1" : `no MariaDB/MySQL answers at ${HOST}:${PORT}`}`);

const ADMIN_USER = process.env.MYSQL_USER ?? "root";
const ADMIN_PASSWORD = process.env.MYSQL_PASSWORD ?? "";
const RUN = `${process.pid}_${randomBytes(4).toString("hex")}`;
const DB = `dg_scan_${RUN}`;
const NOSELECT_USER = `dg_nosel_${RUN}`.slice(0, 32);
const PARTIAL_USER = `dg_part_${RUN}`.slice(0, 32);
const USER_PASSWORD = `pw-${randomBytes(6).toString("hex")}`;

const policy = parseAllowedHosts(undefined, { allowLoopback: true }); // development: the local server
const target = (over: Partial<DatabaseTarget> = {}): DatabaseTarget => ({
  engine: "MYSQL",
  host: HOST,
  port: PORT,
  database: DB,
  user: ADMIN_USER,
  password: ADMIN_PASSWORD,
  ssl: false,
  ...over,
});

function scan(options: Partial<DatabaseScanOptions> = {}, over: Partial<DatabaseTarget> = {}, signal?: AbortSignal) {
  const progress: ScanProgressUpdate[] = [];
  const skipped: SkippedTable[] = [];
  const promise = scanDatabase(
    target(over),
    { sampleSize: 100, hostPolicy: policy, onTableSkipped: (s) => skipped.push(s), ...options },
    { signal: signal ?? new AbortController().signal, hashKey: "test-hash-key", onProgress: (u) => progress.push(u) },
  );
  return { promise, progress, skipped };
}

const BACKTICK_TABLE = "we`ird tab`le";
const UNICODE_TABLE = "klanten_ü";
const LONG_TABLE = "t".repeat(64); // the identifier limit: 64 characters
const LONG_COLUMN = "e-mail adres " + "ü".repeat(51); // 64 characters
const INJECTION_COLUMN = "`) FROM mysql.user; --";

let admin: mysql.Connection;
const validBsns = bsns(true, 40);
const invalidBsns = bsns(false, 40);
const q = (sql: string, values: unknown[] = []) => admin.query(sql, values);

describe.skipIf(SKIP)("MySQL / MariaDB", () => {
  beforeAll(async () => {
    admin = await mysql
      .createConnection({ host: HOST, port: PORT, user: ADMIN_USER, password: ADMIN_PASSWORD, charset: "utf8mb4_general_ci" })
      .catch((error: Error) => {
        throw new Error(
          `MariaDB/MySQL is not reachable at ${HOST}:${PORT} (${error.message}): set SKIP_MYSQL_TESTS=1 to skip these tests`,
        );
      });
    await q(`CREATE DATABASE ${quoteMysqlIdent(DB)} CHARACTER SET utf8mb4`);
    await q(`USE ${quoteMysqlIdent(DB)}`);
    await q(`CREATE TABLE customers (id int AUTO_INCREMENT PRIMARY KEY, email varchar(200), bsn char(9), iban varchar(40),
      creditcard varchar(30), telefoon varchar(20), opmerking text)`);
    for (let i = 0; i < 40; i++) {
      await q(`INSERT INTO customers (email, bsn, iban, creditcard, telefoon, opmerking) VALUES (?, ?, ?, ?, ?, ?)`, [
        `klant${i}@example.com`,
        validBsns[i],
        "NL91ABNA0417164300",
        i % 2 === 0 ? "4111111111111111" : "5555555555554444",
        "+31612345678",
        i % 4 === 0 ? `bel +31612345678 of mail info${i}@example.org` : "geen bijzonderheden",
      ]);
    }
    await q(`CREATE TABLE orders (id int AUTO_INCREMENT PRIMARY KEY, order_number varchar(30), ref_number char(9),
      version varchar(20), amount decimal(12,2), big bigint, sku varchar(20))`);
    for (let i = 0; i < 40; i++) {
      await q(`INSERT INTO orders (order_number, ref_number, version, amount, big, sku) VALUES (?, ?, ?, ?, ?, ?)`, [
        `ORD-2024-${100000 + i}`,
        invalidBsns[i],
        `1.${i}.3`,
        1234.56 + i,
        luhnInvalid(4111111111111112n + BigInt(i * 10)),
        `SKU-${i}-XL`,
      ]);
    }
    await q(`CREATE TABLE empty_table (id int, email varchar(100))`);
    await q(`CREATE TABLE typed (id int, bsn_number bigint, raw blob, big_text longtext, late_text longtext, flags bit(8), pos point)`);
    await q(`INSERT INTO typed VALUES (1, ?, ?, ?, ?, b'101', POINT(1, 2))`, [
      Number(validBsns[0]),
      Buffer.from("contact: blob@example.com"),
      "bigcell@example.com " + "x".repeat(200_000),
      "x".repeat(100_000) + " hidden@example.com",
    ]);
    await q(`CREATE TABLE ${quoteMysqlIdent(BACKTICK_TABLE)} (${quoteMysqlIdent(INJECTION_COLUMN)} text, \`with space\` text)`);
    await q(`INSERT INTO ${quoteMysqlIdent(BACKTICK_TABLE)} VALUES ('inj@example.com', 'NL91ABNA0417164300')`);
    await q(`CREATE TABLE ${quoteMysqlIdent(UNICODE_TABLE)} (${quoteMysqlIdent(LONG_COLUMN)} text, \`"quoted"\` text)`);
    await q(`INSERT INTO ${quoteMysqlIdent(UNICODE_TABLE)} VALUES ('a@example.nl', 'b@example.nl')`);
    await q(`CREATE TABLE ${quoteMysqlIdent(LONG_TABLE)} (email text)`);
    await q(`INSERT INTO ${quoteMysqlIdent(LONG_TABLE)} VALUES ('long@example.nl')`);
    await q(`CREATE TABLE locked_table (id int, email varchar(100))`);
    await q(`INSERT INTO locked_table VALUES (1, 'locked@example.com')`);
    await q(`CREATE VIEW customer_view AS SELECT email FROM customers`);

    await q(`CREATE USER ?@'%' IDENTIFIED BY ?`, [NOSELECT_USER, USER_PASSWORD]);
    await q(`GRANT INSERT ON ${quoteMysqlIdent(DB)}.* TO ?@'%'`, [NOSELECT_USER]);
    await q(`CREATE USER ?@'%' IDENTIFIED BY ?`, [PARTIAL_USER, USER_PASSWORD]);
    await q(`GRANT SELECT ON ${quoteMysqlIdent(DB)}.customers TO ?@'%'`, [PARTIAL_USER]);
  });

  afterAll(async () => {
    if (!admin) return;
    await q(`DROP DATABASE IF EXISTS ${quoteMysqlIdent(DB)}`);
    for (const user of [NOSELECT_USER, PARTIAL_USER]) await q(`DROP USER IF EXISTS ?@'%'`, [user]);
    await admin.end();
  });

  const by = (findings: ScanFinding[], table: string, column: string) =>
    findings.filter((f) => f.table === table && f.column === column);

  describe("scanDatabase", () => {
    let findings: ScanFinding[];
    let progress: ScanProgressUpdate[];

    beforeAll(async () => {
      const run = scan();
      findings = await run.promise;
      progress = run.progress;
      expect(run.skipped).toEqual([]);
    });

    it("finds each PII type once per column, with occurrences and match ratio", () => {
      for (const [column, type] of [
        ["email", "EMAIL"],
        ["bsn", "BSN"],
        ["iban", "IBAN"],
        ["creditcard", "CREDIT_CARD"],
        ["telefoon", "PHONE_NUMBER"],
      ] as const) {
        const found = by(findings, "customers", column).filter((f) => f.type === type);
        expect(found, `${column}:${type}`).toHaveLength(1);
        expect(found[0]).toMatchObject({ source: `${DB}.customers`, occurrences: 40, matchRatio: 1 });
      }
      expect(by(findings, "customers", "opmerking").find((f) => f.type === "EMAIL")).toMatchObject({
        occurrences: 10,
        matchRatio: 0.25,
      });
      for (const f of findings) {
        expect(f.maskedValue).not.toMatch(/^(klant\d+@example\.com|\d{9}|\d{16}|NL91ABNA0417164300|\+31612345678)$/);
      }
    });

    it("reports nothing for decoy columns, empty tables and views", () => {
      expect(findings.filter((f) => f.table === "orders")).toEqual([]);
      expect(findings.filter((f) => f.table === "empty_table")).toEqual([]);
      expect(findings.filter((f) => f.table === "customer_view")).toEqual([]);
    });

    it("casts on the server, reads blobs as text, truncates big cells, skips bit and geometry", () => {
      expect(by(findings, "typed", "bsn_number").map((f) => f.type)).toContain("BSN");
      expect(by(findings, "typed", "raw").map((f) => f.type)).toContain("EMAIL");
      expect(by(findings, "typed", "big_text").map((f) => f.type)).toContain("EMAIL");
      expect(by(findings, "typed", "late_text")).toEqual([]);
      expect(by(findings, "typed", "flags")).toEqual([]);
    });

    it("quotes odd identifiers: backticks, spaces, unicode, 64-character names, injection attempts", async () => {
      expect(by(findings, BACKTICK_TABLE, INJECTION_COLUMN).map((f) => f.type)).toEqual(["EMAIL"]);
      expect(by(findings, BACKTICK_TABLE, "with space").map((f) => f.type)).toEqual(["IBAN"]);
      expect(by(findings, UNICODE_TABLE, LONG_COLUMN).map((f) => f.type)).toEqual(["EMAIL"]);
      expect(by(findings, UNICODE_TABLE, '"quoted"').map((f) => f.type)).toEqual(["EMAIL"]);
      expect(by(findings, LONG_TABLE, "email")).toMatchObject([{ type: "EMAIL", source: `${DB}.${LONG_TABLE}` }]);
      const [rows] = await q(`SELECT count(*) AS n FROM ${quoteMysqlIdent(DB)}.customers`);
      expect((rows as Array<{ n: number }>)[0]!.n).toBe(40);
    });

    it("reports progress per table", () => {
      const total = progress.find((p) => p.itemsTotal !== null)!.itemsTotal;
      expect(total).toBe(8); // customers, orders, empty_table, typed, three odd names, locked_table (views are not scanned)
      expect(progress.map((p) => p.stage)).toContain(`sampling ${DB}.customers`);
      expect(progress.at(-1)).toMatchObject({ itemsProcessed: total, itemsTotal: total });
    });

    it("honours tables, maxColumns, maxCellBytes and sampleSize", async () => {
      const only = await scan({ tables: ["customers"], maxColumns: 2, sampleSize: 10 }).promise;
      expect(only.map((f) => `${f.column}:${f.type}:${f.occurrences}:${f.matchRatio}`)).toEqual(["email:EMAIL:10:1"]);
      const tiny = await scan({ tables: [`${DB}.typed`], maxCellBytes: 16 }).promise;
      expect(by(tiny, "typed", "big_text")).toEqual([]);
      await expectScanError(scan({ tables: ["customers", "no_such_table"] }).promise, "TABLE_NOT_FOUND");
    });
  });

  describe("failures end with a clear code, nothing invented", () => {
    it("wrong password → AUTHENTICATION_FAILED", async () => {
      await expectScanError(scan({}, { user: NOSELECT_USER, password: "wrong" }).promise, "AUTHENTICATION_FAILED");
      await expectScanError(scan({}, { password: "definitely-wrong" }).promise, "AUTHENTICATION_FAILED");
    });

    it("closed port → CONNECTION_FAILED", async () => {
      await expectScanError(scan({}, { port: await findFreePort() }).promise, "CONNECTION_FAILED");
    });

    it("unknown database → DATABASE_NOT_FOUND", async () => {
      await expectScanError(scan({}, { database: `dg_missing_${RUN}` }).promise, "DATABASE_NOT_FOUND");
    });

    it("a user without SELECT → PERMISSION_DENIED", async () => {
      const run = scan({}, { user: NOSELECT_USER, password: USER_PASSWORD });
      await expectScanError(run.promise, "PERMISSION_DENIED");
      expect(run.skipped.length).toBeGreaterThan(0);
      expect(run.skipped.every((s) => s.code === "PERMISSION_DENIED")).toBe(true);
    });

    it("a user with SELECT on one table sees and scans that table only", async () => {
      const findings = await scan({}, { user: PARTIAL_USER, password: USER_PASSWORD }).promise;
      expect(new Set(findings.map((f) => f.table))).toEqual(new Set(["customers"]));
    });

    it("a statement timeout skips the table; if it was the only one, TIMEOUT", async () => {
      const holder = await lockTable("locked_table");
      try {
        await expectScanError(scan({ tables: ["locked_table"], statementTimeoutMs: 500 }).promise, "TIMEOUT");
        const run = scan({ statementTimeoutMs: 500 });
        const findings = await run.promise;
        expect(run.skipped).toEqual([expect.objectContaining({ source: `${DB}.locked_table`, code: "TIMEOUT" })]);
        expect(by(findings, "customers", "email")).toHaveLength(1);
      } finally {
        await holder.release();
      }
    });
  });

  describe("host policy", () => {
    it.each([
      ["169.254.1.1", undefined],
      ["127.0.0.1", undefined], // production default: public addresses only
      ["[::ffff:127.0.0.1]", undefined],
      ["127.0.0.1", "10.0.0.0/8"],
    ])("%s with DATABASE_SCAN_ALLOWED_HOSTS=%s → HOST_NOT_ALLOWED, no socket", async (host, allowed) => {
      const connect = vi.spyOn(net.Socket.prototype, "connect");
      try {
        const hostPolicy = parseAllowedHosts(allowed);
        await expectScanError(scan({ hostPolicy }, { host }).promise, "HOST_NOT_ALLOWED");
        expect(await testDatabaseConnection(target({ host }), { hostPolicy })).toMatchObject({ ok: false, code: "HOST_NOT_ALLOWED" });
        expect(connect).not.toHaveBeenCalled();
        await scan({ tables: ["empty_table"] }).promise; // the spy does see an allowed scan's socket
        expect(connect).toHaveBeenCalled();
      } finally {
        connect.mockRestore();
      }
    });
  });

  it("testDatabaseConnection answers with the server version, or a code", async () => {
    expect(await testDatabaseConnection(target(), { hostPolicy: policy })).toEqual({
      ok: true,
      serverVersion: expect.stringMatching(/^(MariaDB|MySQL) \d+/),
    });
    expect(await testDatabaseConnection(target({ password: "wrong" }), { hostPolicy: policy })).toMatchObject({
      ok: false,
      code: "AUTHENTICATION_FAILED",
    });
  });

  describe("cancellation", () => {
    it("an abort while blocked on LOCK TABLES … WRITE kills the query on the server and throws within one second", async () => {
      const holder = await lockTable("locked_table");
      try {
        const controller = new AbortController();
        const run = scan({ statementTimeoutMs: 60_000 }, {}, controller.signal);
        const outcome = run.promise.then(
          () => null,
          (e: unknown) => e,
        );
        const blockedId = await waitFor("the scanner to wait on the lock", async () => {
          const [rows] = await q(
            `SELECT ID, STATE FROM information_schema.PROCESSLIST
              WHERE DB = ? AND ID <> ? AND INFO LIKE '%locked_table%' AND STATE LIKE '%lock%'`,
            [DB, holder.threadId],
          );
          return (rows as Array<{ ID: number }>)[0]?.ID;
        }, (v) => v !== undefined, { timeoutMs: 10_000, intervalMs: 20 });
        expect(run.progress.at(-1)?.stage).toBe(`sampling ${DB}.locked_table`);
        const started = performance.now();
        controller.abort();
        const error = await outcome;
        const elapsed = performance.now() - started;
        console.log(`[mysql] abort → ScanAbortedError in ${elapsed.toFixed(1)} ms`);
        expect(error).toBeInstanceOf(ScanAbortedError);
        expect(elapsed).toBeLessThan(1_000);
        // The statement is gone, and so is the connection that ran it.
        const [rows] = await q(`SELECT ID, COMMAND, STATE, INFO FROM information_schema.PROCESSLIST WHERE ID = ? OR (DB = ? AND ID NOT IN (?, CONNECTION_ID()))`, [
          blockedId,
          DB,
          holder.threadId,
        ]);
        expect(rows).toEqual([]);
      } finally {
        await holder.release();
      }
    });

    it("an already aborted signal opens no connection", async () => {
      const controller = new AbortController();
      controller.abort();
      const connect = vi.spyOn(net.Socket.prototype, "connect");
      try {
        await expect(scan({}, {}, controller.signal).promise).rejects.toBeInstanceOf(ScanAbortedError);
        expect(connect).not.toHaveBeenCalled();
      } finally {
        connect.mockRestore();
      }
    });
  });
});

async function lockTable(table: string): Promise<{ threadId: number; release: () => Promise<void> }> {
  const conn = await mysql.createConnection({ host: HOST, port: PORT, user: ADMIN_USER, password: ADMIN_PASSWORD, database: DB });
  await conn.query(`LOCK TABLES ${quoteMysqlIdent(table)} WRITE`);
  return {
    threadId: conn.threadId,
    release: async () => {
      await conn.query("UNLOCK TABLES").catch(() => undefined);
      await conn.end();
    },
  };
}


