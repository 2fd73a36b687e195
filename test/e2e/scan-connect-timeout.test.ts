/**
 * Database scans use DATABASE_SCAN_CONNECT_TIMEOUT, as connection tests do (they had a fixed
 * 10 s): a target that accepts TCP and then says nothing fails the scan with
 * CONNECTION_FAILED once the configured timeout passes, and the server log says what really
 * happened (`detail`), which the user's message does not.
 */
import net from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

let db: TestDatabase;
let server: ServerProcess;
let silent: net.Server;
const held = new Set<net.Socket>();

beforeAll(async () => {
  db = await createTestDatabase();
  // Accepts and never answers: the client waits for the server's first message until its timeout.
  silent = net.createServer((s) => {
    held.add(s);
    s.on("error", () => undefined);
    s.on("close", () => held.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  server = await startServerProcess({
    DATABASE_URL: db.url,
    NODE_ENV: "production",
    ENCRYPTION_KEY: `k1:${randomBytes(32).toString("base64")}`,
    DATABASE_SCAN_ALLOWED_HOSTS: "127.0.0.0/8",
    DATABASE_SCAN_CONNECT_TIMEOUT: "300ms",
  });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  for (const s of held) s.destroy();
  await new Promise((r) => silent?.close(r));
  await db?.drop();
});

describe("database scan connect timeout", () => {
  it("a silent target fails the scan with CONNECTION_FAILED after DATABASE_SCAN_CONNECT_TIMEOUT, with the detail in the log only", async () => {
    const token = await server.token("quiet");
    const session = await request<{ openSession: { id: string } }, Record<string, unknown>>(server.url, `mutation { openSession { id } }`, {}, token);
    const sessionId = session.data!.openSession.id;
    const port = (silent.address() as net.AddressInfo).port;
    const saved = await request<{ saveDatabaseConnection: { id: string } }, Record<string, unknown>>(
      server.url,
      `mutation ($input: DatabaseConnectionInput!) { saveDatabaseConnection(input: $input) { id } }`,
      { input: { sessionId, name: "quiet", engine: "POSTGRESQL", host: "127.0.0.1", port, database: "crm", user: "app", password: "pw" } },
      token,
    );
    expect(saved.errors).toBeUndefined();
    const started = await request<{ startDatabaseScan: { id: string } }, Record<string, unknown>>(
      server.url,
      `mutation ($input: DatabaseScanInput!) { startDatabaseScan(input: $input) { id } }`,
      { input: { sessionId, connectionId: saved.data!.saveDatabaseConnection.id } },
      token,
    );
    expect(started.errors).toBeUndefined();
    const scanId = started.data!.startDatabaseScan.id;
    // The fixed 10 s of before would not end the scan within this deadline; 300 ms does with room to spare.
    const deadline = Date.now() + 8_000;
    let scan: { status: string; error: { code: string; message: string } | null } | undefined;
    while (Date.now() < deadline) {
      const r = await request<{ scan: typeof scan }, Record<string, unknown>>(server.url, `query ($id: ID!) { scan(id: $id) { status error { code message } } }`, { id: scanId }, token);
      scan = r.data?.scan;
      if (scan && scan.status !== "QUEUED" && scan.status !== "RUNNING") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(scan?.status).toBe("FAILED");
    expect(scan?.error?.code).toBe("CONNECTION_FAILED");
    // The log line carries the scan and what really happened; the user's message says less.
    const line = server.output.find((l) => l.includes("database scan failed") && l.includes(scanId));
    expect(line).toBeDefined();
    const logged = JSON.parse(line!) as { code: string; detail?: string };
    expect(logged.code).toBe("CONNECTION_FAILED");
    expect(logged.detail).toMatch(/\S/);
    expect(scan!.error!.message).not.toContain(logged.detail!);
  }, 30_000);
});
