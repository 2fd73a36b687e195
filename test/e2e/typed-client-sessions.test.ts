/**
 * The integrators' example closes its session on every path (issue 14, point 8): a run that
 * fails after the session opened (the server refuses the document), and a run stopped with
 * SIGINT mid-scan, leave no session behind. Real server, real example process.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionsDocument } from "../generated/graphql.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const example = path.join(root, "examples", "typed-client");

describe("examples/typed-client: no session left behind", () => {
  let db: TestDatabase;
  let server: ServerProcess;
  const dir = mkdtempSync(path.join(tmpdir(), "dg-typed-"));

  beforeAll(async () => {
    db = await createTestDatabase();
    // No scan workers: a started scan stays QUEUED, so the interrupt lands while the example
    // is still watching it (no race with a fast scan).
    server = await startServerProcess({ DATABASE_URL: db.url, MAX_DOCUMENT_BYTES: "4kb", SCAN_WORKERS: "0" });
    const tsc = spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", example], { cwd: root, encoding: "utf8" });
    expect(tsc.stdout + tsc.stderr).toBe("");
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  const sessionsOf = async (token: string) => (await request(server.url, SessionsDocument, {}, token)).data?.sessions ?? null;

  it("closes the session when the server refuses the scan", async () => {
    const token = await server.token("integrator-fail");
    const big = path.join(dir, "big.txt");
    writeFileSync(big, "x".repeat(10_000));
    const run = spawnSync(process.execPath, [path.join(example, "dist", "main.js"), big], {
      cwd: example,
      encoding: "utf8",
      timeout: 60_000,
      env: { PATH: process.env.PATH, DG_URL: server.url, DG_TOKEN: token },
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^session [0-9a-f-]{36}/m);
    expect(run.stderr).toMatch(/GraphQL error BAD_USER_INPUT/);
    expect(run.stdout).toContain("session closed");
    expect(await sessionsOf(token)).toEqual([]);
  }, 90_000);

  it("closes the session when stopped with SIGINT mid-scan", async () => {
    const token = await server.token("integrator-interrupt");
    const file = path.join(dir, "doc.txt");
    writeFileSync(file, "Contact: persoon@example.nl, IBAN NL91ABNA0417164300\n");
    const child = spawn(process.execPath, [path.join(example, "dist", "main.js"), file], {
      cwd: example,
      env: { PATH: process.env.PATH, DG_URL: server.url, DG_TOKEN: token },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (out += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await waitFor("the example to start its scan", async () => out, (o) => /^progress \d+% QUEUED/m.test(o), { timeoutMs: 60_000 });
    const before = await sessionsOf(token);
    expect(before).toHaveLength(1);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(out).toContain("SIGINT: stopping");
    expect(out).toContain("session closed");
    expect(await sessionsOf(token)).toEqual([]);
  }, 120_000);
});
