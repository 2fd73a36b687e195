/**
 * Issue 12 from outside, in production mode, over real HTTP and WebSocket: identity input
 * (point 4), code-scan names (5), /metrics for operators only (7), bounded sessions (8), and
 * keys that disagree (9).
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request, TestWsClient } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

const KEY_A = randomBytes(32).toString("base64");
const METRICS_TOKEN = randomBytes(24).toString("base64url");
let db: TestDatabase;
let server: ServerProcess;
let alice: string;
const extra: ServerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServerProcess({
    DATABASE_URL: db.url,
    NODE_ENV: "production",
    ENCRYPTION_KEY: `k1:${KEY_A}`,
    MAX_PAYMENTS_PER_SESSION: "3",
    MAX_CONNECTIONS_PER_SESSION: "2",
    // Public addresses only: a scan never gets as far as connecting in these tests.
    DATABASE_SCAN_ALLOWED_HOSTS: "93.184.216.34",
  });
  alice = await server.token("alice");
}, 120_000);

afterAll(async () => {
  await Promise.all(extra.map((s) => s.stop()));
  await server?.stop();
  await db?.drop();
});

const signed = (sub: string) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(server.secret));
const openSession = async (token = alice) => {
  const res = await request<{ openSession: { id: string } }, Record<string, unknown>>(server.url, `mutation { openSession { id } }`, {}, token);
  expect(res.errors).toBeUndefined();
  return res.data!.openSession.id;
};

describe("point 4: a sub with a NUL byte", () => {
  it("is UNAUTHENTICATED over HTTP (not 500), logged once however often it is sent", async () => {
    const token = await signed("ali\u0000ce");
    for (let i = 0; i < 10; i++) {
      const res = await request(server.url, `{ me { id } }`, {}, token);
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe("UNAUTHENTICATED");
    }
    await waitFor("the refusal's log line", async () => server.output.some((l) => l.includes("subject (sub) is not a valid user id")), Boolean);
    expect(server.output.filter((l) => l.includes("subject (sub) is not a valid user id"))).toHaveLength(1);
    expect(server.output.filter((l) => /INTERNAL_SERVER_ERROR|"level":50/.test(l))).toEqual([]);
  });

  it("is refused over WebSocket too", async () => {
    const ws = await TestWsClient.open(server.wsUrl);
    ws.send({ type: "connection_init", payload: { authorization: `Bearer ${await signed("\u0000")}` } });
    expect([4401, 4403]).toContain((await ws.waitForClose()).code);
  });
});

describe("point 5: code-scan names", () => {
  it.each([
    ["\\etc\\passwd"],
    ["\\\\server\\share\\x.js"],
    ["file:///etc/passwd"],
    ["．．/x.js"],
    ["a/\u202E/sj.exe"],
    ["/etc/passwd"],
  ])("%j is BAD_USER_INPUT naming the file index", async (name) => {
    const sessionId = await openSession();
    const res = await request(
      server.url,
      `mutation ($input: CodeScanInput!) { startCodeScan(input: $input) { id } }`,
      { input: { sessionId, files: [{ name: "src/ok.js", text: "let a = 1;" }, { name, text: "let b = 2;" }] } },
      alice,
    );
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0]!.extensions!.field).toBe("files[1].name");
    expect(res.errors![0]!.message).toMatch(/^files\[1\]\.name /);
  });
});

describe("point 7: /metrics for operators only", () => {
  it("is not served in production when neither METRICS_TOKEN nor METRICS_PORT is set", async () => {
    expect((await fetch(`${server.base}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
  });

  it("wants the bearer token when METRICS_TOKEN is set", async () => {
    const withToken = await startServerProcess({ DATABASE_URL: db.url, NODE_ENV: "production", ENCRYPTION_KEY: `k1:${KEY_A}`, METRICS_TOKEN });
    extra.push(withToken);
    const none = await fetch(`${withToken.base}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await fetch(`${withToken.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(401);
    // A user's API token is not a metrics token.
    expect((await fetch(`${withToken.base}/metrics`, { headers: { authorization: `Bearer ${await withToken.token("root", { admin: true })}` } })).status).toBe(401);
    const ok = await fetch(`${withToken.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/dg_db_pool_size/);
    expect(withToken.output.join("\n")).not.toContain(METRICS_TOKEN);
  });

  it("moves to its own port when METRICS_PORT is set", async () => {
    const separate = await startServerProcess({ DATABASE_URL: db.url, NODE_ENV: "production", ENCRYPTION_KEY: `k1:${KEY_A}`, METRICS_PORT: "0" });
    extra.push(separate);
    const line = separate.output.find((l) => l.includes("metrics served on their own port"))!;
    const metricsPort = (JSON.parse(line) as { metricsPort: number }).metricsPort;
    expect(metricsPort).not.toBe(separate.port);
    expect((await fetch(`${separate.base}/metrics`)).status).toBe(404);
    const ok = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/dg_db_pool_size/);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/graphql`, { method: "POST" })).status).toBe(404);
  });

  it("applies to a worker's WORKER_HTTP_PORT alike", async () => {
    const worker = await startServerProcess(
      { DATABASE_URL: db.url, NODE_ENV: "production", ENCRYPTION_KEY: `k1:${KEY_A}`, WORKER_HTTP_PORT: "0", METRICS_TOKEN },
      { entry: "src/worker.ts", readyPattern: "scan worker ready" },
    );
    extra.push(worker);
    const line = worker.output.find((l) => l.includes("scan worker ready"))!;
    const base = `http://127.0.0.1:${(JSON.parse(line) as { probePort: number }).probePort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
  });
});

describe("point 8: bounded sessions over HTTP", () => {
  const pay = (sessionId: string, i: number) => ({ sessionId, provider: "mollie", reference: `tr_${i}`, amountCents: 100, currency: "EUR", status: "PAID" });
  const recordPayment = `mutation ($input: PaymentInput!) { recordPayment(input: $input) { id } }`;

  it("refuses the payment past MAX_PAYMENTS_PER_SESSION with a sentence, and pages the list", async () => {
    const sessionId = await openSession();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request<{ recordPayment: { id: string } }, Record<string, unknown>>(server.url, recordPayment, { input: pay(sessionId, i) }, alice);
      expect(res.errors).toBeUndefined();
      ids.push(res.data!.recordPayment.id);
    }
    const over = await request(server.url, recordPayment, { input: pay(sessionId, 3) }, alice);
    expect(codeOf(over)).toBe("BAD_USER_INPUT");
    expect(over.errors![0]!.message).toMatch(/maximum of 3 payment records.*MAX_PAYMENTS_PER_SESSION/);

    const page = (first: number, after?: string) =>
      request<{ payments: Array<{ id: string }> }, Record<string, unknown>>(
        server.url,
        `query ($s: ID!, $first: Int, $after: String) { payments(sessionId: $s, first: $first, after: $after) { id } }`,
        { s: sessionId, first, after },
        alice,
      );
    const first = (await page(2)).data!.payments.map((p) => p.id);
    const second = (await page(2, first.at(-1))).data!.payments.map((p) => p.id);
    expect([...first, ...second]).toEqual(ids);
    expect(codeOf(await page(501))).toBe("BAD_USER_INPUT");
  });

  it("refuses the connection past MAX_CONNECTIONS_PER_SESSION and a 1,024-character password", async () => {
    const sessionId = await openSession();
    const save = (over: Record<string, unknown> = {}) =>
      request(
        server.url,
        `mutation ($input: DatabaseConnectionInput!) { saveDatabaseConnection(input: $input) { id } }`,
        { input: { sessionId, name: "crm", engine: "POSTGRESQL", host: "93.184.216.34", port: 5432, database: "crm", user: "reader", password: "pw", ...over } },
        alice,
      );
    expect(codeOf(await save({ password: "p".repeat(1024) }))).toBe("BAD_USER_INPUT");
    expect((await save()).errors).toBeUndefined();
    expect((await save()).errors).toBeUndefined();
    const over = await save();
    expect(codeOf(over)).toBe("BAD_USER_INPUT");
    expect(over.errors![0]!.message).toMatch(/maximum of 2 database connections/);
    const list = await request<{ databaseConnections: unknown[] }, Record<string, unknown>>(
      server.url,
      `query ($s: ID!) { databaseConnections(sessionId: $s, first: 1) { id } }`,
      { s: sessionId },
      alice,
    );
    expect(list.data!.databaseConnections).toHaveLength(1);
  });
});

describe("point 9: keys that disagree", () => {
  it("a scan that meets an unreadable password fails telling the user to save the connection again", async () => {
    const sessionId = await openSession();
    const saved = await request<{ saveDatabaseConnection: { id: string } }, Record<string, unknown>>(
      server.url,
      `mutation ($input: DatabaseConnectionInput!) { saveDatabaseConnection(input: $input) { id } }`,
      { input: { sessionId, name: "crm", engine: "POSTGRESQL", host: "93.184.216.34", port: 5432, database: "crm", user: "reader", password: "pw" } },
      alice,
    );
    const connectionId = saved.data!.saveDatabaseConnection.id;
    // As if sealed by an instance with another key: the ciphertext no longer authenticates.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    await sql.query(`update "DatabaseConnection" set "passwordCiphertext" = set_byte("passwordCiphertext", 20, get_byte("passwordCiphertext", 20) # 1) where id = $1`, [connectionId]);
    await sql.end();
    const started = await request<{ startDatabaseScan: { id: string } }, Record<string, unknown>>(
      server.url,
      `mutation ($input: DatabaseScanInput!) { startDatabaseScan(input: $input) { id } }`,
      { input: { sessionId, connectionId } },
      alice,
    );
    expect(started.errors).toBeUndefined();
    type ScanState = { status: string; error: { code: string; message: string } | null } | null;
    const scan = await waitFor(
      "the scan to fail",
      async () =>
        (
          await request<{ scan: ScanState }, Record<string, unknown>>(
            server.url,
            `query ($id: ID!) { scan(id: $id) { status error { code message } } }`,
            { id: started.data!.startDatabaseScan.id },
            alice,
          )
        ).data!.scan,
      (s) => s?.status === "FAILED",
      { timeoutMs: 30_000 },
    );
    expect(scan!.error!.code).toBe("SECRET_UNAVAILABLE");
    expect(scan!.error!.message).toMatch(/save the connection again/);
  });

  it("an instance with another ENCRYPTION_KEY on the same database refuses to start, with one line naming it", async () => {
    const other = startServerProcess({ DATABASE_URL: db.url, NODE_ENV: "production", ENCRYPTION_KEY: `k1:${randomBytes(32).toString("base64")}` });
    const error = await other.then(
      (s) => (extra.push(s), null),
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/exited with 1 before it was ready/);
    const lines = error!.message.split("\n").filter((l) => l.includes("ENCRYPTION_KEY"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Start-up failed: ENCRYPTION_KEY does not match the key that sealed the secrets stored in this database/);
    // Rotation with the old key listed after a new one starts.
    const rotated = await startServerProcess({ DATABASE_URL: db.url, NODE_ENV: "production", ENCRYPTION_KEY: `k2:${randomBytes(32).toString("base64")},k1:${KEY_A}` });
    extra.push(rotated);
    expect((await fetch(`${rotated.base}/healthz`)).status).toBe(200);
  });
});
