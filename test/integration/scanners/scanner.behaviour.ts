import net from "node:net";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { scanDatabase, type DatabaseScanOptions, type SkippedTable } from "../../../src/modules/scans/scanners/database.scanner.js";
import { ScanAbortedError, type ScanFinding, type ScanProgressUpdate } from "../../../src/modules/scans/scanners/scanner.types.js";
import { findFreePort } from "../../../src/platform/db/embedded.js";
import { parseAllowedHosts, type HostPolicy } from "../../../src/platform/net/host-policy.js";
import { testDatabaseConnection, type DatabaseTarget } from "../../../src/platform/target-db/index.js";
import { expectScanError } from "../../support/scanner-fixtures.js";

/**
 * What the database scanner does on every engine, written once (issue 15.4), as
 * test/e2e/scans.behaviour.ts does for scans: each engine's file seeds the same tables in its
 * own dialect and calls {@link describeScannerBehaviour} with what differs. Engine-specific
 * behaviour (privileges per column, how a blocked query is found and cancelled) stays in the
 * engine's file.
 *
 * The seeded database: `customers` (40 rows of PII: email, bsn, iban, creditcard, telefoon,
 * and opmerking with an e-mail in every fourth row), `orders` (decoys only), `empty_table`,
 * `typed` (bsn_number, raw bytes with an e-mail, big_text with an e-mail first, late_text with
 * one after 100,000 characters, and columns that hold no text), `locked_table`, a view
 * `customer_view`, and tables with odd identifiers.
 */
export interface ScannerFixture {
  /** The seeded database, as the admin. */
  target(over?: Partial<DatabaseTarget>): DatabaseTarget;
  /** "schema.table" as findings and progress name it. */
  source(table: string): string;
  /** User tables the scanner lists (views are not). */
  tableCount: number;
  /** [table, column, type] of the odd-identifier tables, each found exactly once. */
  oddFindings: Array<[string, string, string]>;
  /** Columns of `typed` that hold no text, so are never sampled. */
  textlessColumns: string[];
  /** Logins that must fail authentication. */
  wrongLogins: Array<Partial<DatabaseTarget>>;
  /** A login that may connect but read nothing. */
  noSelect: Partial<DatabaseTarget>;
  /** The engine lists every table to a login without SELECT (so each is reported skipped). */
  noSelectSeesEveryTable: boolean;
  versionPattern: RegExp;
  /** Holds a lock that makes reads of `table` wait. */
  lockTable(table: string): Promise<{ release(): Promise<void> }>;
  countCustomers(): Promise<number>;
}

/** Development: the local server may be scanned. */
export const devPolicy: HostPolicy = parseAllowedHosts(undefined, { allowLoopback: true });

export function describeScannerBehaviour(f: ScannerFixture): void {
  const scan = (options: Partial<DatabaseScanOptions> = {}, over: Partial<DatabaseTarget> = {}, signal?: AbortSignal) => {
    const progress: ScanProgressUpdate[] = [];
    const skipped: SkippedTable[] = [];
    const promise = scanDatabase(
      f.target(over),
      { sampleSize: 100, hostPolicy: devPolicy, onTableSkipped: (s) => skipped.push(s), ...options },
      { signal: signal ?? new AbortController().signal, hashKey: "test-hash-key", onProgress: (u) => progress.push(u) },
    );
    return { promise, progress, skipped };
  };
  const by = (findings: ScanFinding[], table: string, column: string) => findings.filter((x) => x.table === table && x.column === column);

  describe("scanDatabase", () => {
    let findings: ScanFinding[];
    let progress: ScanProgressUpdate[];

    beforeAll(async () => {
      const run = scan();
      findings = await run.promise;
      progress = run.progress;
      expect(run.skipped).toEqual([]); // every table read
    });

    it("finds each PII type once per column, with occurrences and match ratio, masked", () => {
      for (const [column, type] of [
        ["email", "EMAIL"],
        ["bsn", "BSN"],
        ["iban", "IBAN"],
        ["creditcard", "CREDIT_CARD"],
        ["telefoon", "PHONE_NUMBER"],
      ] as const) {
        const found = by(findings, "customers", column).filter((x) => x.type === type);
        expect(found, `${column}:${type}`).toHaveLength(1);
        expect(found[0]).toMatchObject({ source: f.source("customers"), table: "customers", column, occurrences: 40, matchRatio: 1 });
        expect(found[0]!.confidence).toBeGreaterThan(0);
        expect(found[0]!.confidence).toBeLessThanOrEqual(1);
      }
      for (const x of findings) {
        expect(x.maskedValue).not.toMatch(/^(klant\d+@example\.com|\d{9}|\d{16}|NL91ABNA0417164300|\+31612345678)$/);
        expect(x.maskedValue).not.toContain("0417164300");
      }
    });

    it("reports the share of sampled rows that matched", () => {
      expect(by(findings, "customers", "opmerking").find((x) => x.type === "EMAIL")).toMatchObject({ occurrences: 10, matchRatio: 0.25 });
    });

    it("reports nothing for decoy columns, empty tables and views", () => {
      expect(findings.filter((x) => x.table === "orders")).toEqual([]);
      expect(findings.filter((x) => x.table === "empty_table")).toEqual([]);
      expect(findings.filter((x) => x.table === "customer_view")).toEqual([]);
    });

    it("casts every type on the server, reads bytes as text, truncates big cells, skips columns without text", () => {
      expect(by(findings, "typed", "bsn_number").map((x) => x.type)).toContain("BSN");
      expect(by(findings, "typed", "raw").map((x) => x.type)).toContain("EMAIL");
      expect(by(findings, "typed", "big_text").map((x) => x.type)).toContain("EMAIL"); // at the start
      expect(by(findings, "typed", "late_text")).toEqual([]); // beyond maxCellBytes (64 KiB)
      for (const column of f.textlessColumns) expect(by(findings, "typed", column), column).toEqual([]);
    });

    it("quotes odd identifiers (quotes, backticks, spaces, unicode, longest names, injection attempts)", async () => {
      for (const [table, column, type] of f.oddFindings) {
        expect(by(findings, table, column).map((x) => x.type), `${table}.${column}`).toEqual([type]);
        expect(by(findings, table, column)[0]!.source).toBe(f.source(table));
      }
      expect(await f.countCustomers()).toBe(40); // no injected statement ran
    });

    it("reports progress per table, in order", () => {
      const total = progress.find((p) => p.itemsTotal !== null)!.itemsTotal;
      expect(total).toBe(f.tableCount);
      expect(progress.map((p) => p.stage)).toContain(`sampling ${f.source("customers")}`);
      expect(progress.at(-1)).toMatchObject({ itemsProcessed: total, itemsTotal: total });
      const processed = progress.filter((p) => p.itemsTotal !== null).map((p) => p.itemsProcessed);
      expect([...processed].sort((a, b) => a - b)).toEqual(processed);
    });

    it("honours tables, maxColumns, maxCellBytes and sampleSize", async () => {
      const only = await scan({ tables: ["customers"], maxColumns: 2, sampleSize: 10 }).promise; // columns id, email
      expect(only.map((x) => `${x.column}:${x.type}:${x.occurrences}:${x.matchRatio}`)).toEqual(["email:EMAIL:10:1"]);
      const small = await scan({ tables: [f.source("typed")], maxCellBytes: 1024 }).promise;
      expect(by(small, "typed", "big_text").map((x) => x.type)).toContain("EMAIL");
      const tiny = await scan({ tables: [f.source("typed")], maxCellBytes: 16 }).promise;
      expect(by(tiny, "typed", "big_text")).toEqual([]); // "bigcell@example." is all that is left
      await expectScanError(scan({ tables: ["customers", "no_such_table"] }).promise, "TABLE_NOT_FOUND");
    });

    it("limits the number of tables", async () => {
      const run = scan({ maxTables: 2 });
      await run.promise;
      expect(run.progress.find((p) => p.itemsTotal !== null)!.itemsTotal).toBe(2);
    });
  });

  describe("failures end with a clear code, nothing invented", () => {
    it("wrong logins → AUTHENTICATION_FAILED", async () => {
      for (const login of f.wrongLogins) await expectScanError(scan({}, login).promise, "AUTHENTICATION_FAILED");
    });

    it("closed port → CONNECTION_FAILED", async () => {
      await expectScanError(scan({}, { port: await findFreePort() }).promise, "CONNECTION_FAILED");
    });

    it("unknown database → DATABASE_NOT_FOUND", async () => {
      await expectScanError(scan({}, { database: `dg_missing_${process.pid}` }).promise, "DATABASE_NOT_FOUND");
    });

    it("a login without SELECT → PERMISSION_DENIED, every table it sees listed as skipped", async () => {
      const run = scan({}, f.noSelect);
      const error = await expectScanError(run.promise, "PERMISSION_DENIED");
      expect(error.message).toMatch(/no table could be read/);
      expect(run.skipped.length).toBeGreaterThan(0);
      if (f.noSelectSeesEveryTable) expect(run.skipped.length).toBe(f.tableCount);
      expect(run.skipped.every((s) => s.code === "PERMISSION_DENIED")).toBe(true);
    });

    it("a statement timeout skips the table; if it was the only one, TIMEOUT", async () => {
      const holder = await f.lockTable("locked_table");
      try {
        await expectScanError(scan({ tables: ["locked_table"], statementTimeoutMs: 500 }).promise, "TIMEOUT");
        const run = scan({ statementTimeoutMs: 500 });
        const findings = await run.promise;
        expect(run.skipped).toEqual([expect.objectContaining({ source: f.source("locked_table"), code: "TIMEOUT" })]);
        expect(by(findings, "customers", "email")).toHaveLength(1);
      } finally {
        await holder.release();
      }
    });
  });

  describe("host policy: refused before any socket opens", () => {
    it.each([
      ["169.254.1.1", undefined, true],
      ["169.254.169.254", undefined, true],
      ["::ffff:169.254.1.1", undefined, true],
      ["127.0.0.1", undefined, false], // production default: public addresses only
      ["localhost", undefined, false],
      ["[::ffff:127.0.0.1]", undefined, false],
      ["127.0.0.1", "10.0.0.0/8", true],
      ["localhost", "10.0.0.0/8", true],
    ])("%s with DATABASE_SCAN_ALLOWED_HOSTS=%s → HOST_NOT_ALLOWED", async (host, allowed, allowLoopback) => {
      const connect = vi.spyOn(net.Socket.prototype, "connect"); // observes, calls through
      try {
        const hostPolicy = parseAllowedHosts(allowed, { allowLoopback });
        const error = await expectScanError(scan({ sampleSize: 10, hostPolicy, connectTimeoutMs: 2_000 }, { host }).promise, "HOST_NOT_ALLOWED");
        // An address says what it is; a name says nothing of what it resolved to (no DNS oracle).
        expect(error.message).toMatch(
          host === "localhost"
            ? /^Database scans may not connect to localhost\. If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS\.$/
            : /^Database scans may not connect to \S+: it is .+\.( If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS\.)?$/,
        );
        expect(await testDatabaseConnection(f.target({ host }), { hostPolicy })).toMatchObject({ ok: false, code: "HOST_NOT_ALLOWED" });
        expect(connect).not.toHaveBeenCalled();
      } finally {
        connect.mockRestore();
      }
    });

    it("the same spy does see the sockets of an allowed scan, which connect to the vetted address, not the name", async () => {
      const connect = vi.spyOn(net.Socket.prototype, "connect");
      try {
        await scan({ tables: ["empty_table"] }, { host: "localhost" }).promise;
        expect(connect).toHaveBeenCalled();
        expect(connect.mock.calls.every((args) => args.includes("localhost") === false)).toBe(true);
      } finally {
        connect.mockRestore();
      }
    });
  });

  it("testDatabaseConnection answers with the server version, or a code", async () => {
    expect(await testDatabaseConnection(f.target(), { hostPolicy: devPolicy })).toEqual({ ok: true, serverVersion: expect.stringMatching(f.versionPattern) });
    expect(await testDatabaseConnection(f.target({ database: `dg_missing_${process.pid}` }), { hostPolicy: devPolicy })).toMatchObject({
      ok: false,
      code: "DATABASE_NOT_FOUND",
    });
    expect(await testDatabaseConnection(f.target({ port: await findFreePort() }), { hostPolicy: devPolicy, connectTimeoutMs: 2_000 })).toMatchObject({
      ok: false,
      code: "CONNECTION_FAILED",
    });
    for (const login of f.wrongLogins) {
      expect(await testDatabaseConnection(f.target(login), { hostPolicy: devPolicy })).toMatchObject({ ok: false, code: "AUTHENTICATION_FAILED" });
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
}
