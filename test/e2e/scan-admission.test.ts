import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListScansDocument, OpenSessionDocument, StartDocumentScanDocument } from "../generated/graphql.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

/** The capacity monitor's veto reaches the scan admission (issues 5 and 6). */
describe("admission asks the capacity monitor", () => {
  let db: TestDatabase;
  let server: ServerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServerProcess({ DATABASE_URL: db.url, CAPACITY_FORCE_LEVEL: "CRITICAL" });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it("refuses a new scan at CRITICAL with CAPACITY_EXCEEDED and a retry hint, storing nothing", async () => {
    const t = await server.token("cora");
    const sessionId = (await request(server.url, OpenSessionDocument, { input: {} }, t)).data!.openSession.id;
    const res = await request(server.url, StartDocumentScanDocument, { input: { sessionId, documents: [{ name: "a.txt", text: "x@example.com" }] } }, t);
    expect(codeOf(res)).toBe("CAPACITY_EXCEEDED");
    expect(res.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThan(0);
    expect(res.errors![0]!.message).toMatch(/capacity/i);
    expect((await request(server.url, ListScansDocument, {}, t)).data!.scans.totalCount).toBe(0);
  });
});
