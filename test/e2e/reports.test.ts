/**
 * The findings report route (src/http/reports.ts) over the real server: authorised like the
 * API, another user's scan is 404 like an unknown id, and the CSV holds masked values only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

const OPEN = `mutation { openSession(input: { name: "report" }) { id } }`;
const START = `mutation Start($input: DocumentScanInput!) { startDocumentScan(input: $input) { id } }`;
const STATUS = `query Scan($id: ID!) { scan(id: $id) { status findingsCount } }`;

describe("findings reports over HTTP", () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let scanId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServerProcess({ DATABASE_URL: db.url });
    const t = await server.token("rhea");
    const sessionId = ((await request(server.url, OPEN, {}, t)).data as { openSession: { id: string } }).openSession.id;
    const text = "Contact jan.jansen@example.nl about invoice 7.";
    const started = await request(server.url, START, { input: { sessionId, documents: [{ name: "mail.txt", text }] } }, t);
    scanId = (started.data as { startDocumentScan: { id: string } }).startDocumentScan.id;
    await waitFor(
      "the scan to succeed",
      async () => ((await request(server.url, STATUS, { id: scanId }, t)).data as { scan: { status: string } }).scan.status,
      (status) => status === "SUCCEEDED",
      { timeoutMs: 120_000 },
    );
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  const get = async (path: string, token?: string) =>
    fetch(`${server.base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it("answers the owner's CSV with masked values only", async () => {
    const res = await get(`/scans/${scanId}/report.csv`, await server.token("rhea"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.text();
    expect(body).toContain("EMAIL");
    expect(body).not.toContain("jan.jansen@example.nl");
  });

  it("answers the owner's HTML page under a strict content policy", async () => {
    const res = await get(`/scans/${scanId}/report.html`, await server.token("rhea"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await res.text()).not.toContain("jan.jansen@example.nl");
  });

  it.each([
    ["no token", undefined, 401, "UNAUTHENTICATED"],
    ["a token that is no token", "not-a-jwt", 401, "UNAUTHENTICATED"],
  ])("%s is UNAUTHENTICATED", async (_name, token, status, code) => {
    const res = await get(`/scans/${scanId}/report.csv`, token);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe(code);
  });

  it("another user's scan is NOT_FOUND, exactly like an unknown id", async () => {
    const other = await server.token("sven");
    const theirs = await get(`/scans/${scanId}/report.csv`, other);
    const unknown = await get(`/scans/00000000-0000-4000-8000-000000000000/report.csv`, other);
    expect(theirs.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(await theirs.json()).toEqual(await unknown.json());
  });
});
