/**
 * The integrators' example (examples/typed-client) compiles with its generated types and runs
 * against a real server: a session, a document scan with live progress to 100%, masked findings.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const example = path.join(root, "examples", "typed-client");

describe("examples/typed-client", () => {
  let db: TestDatabase;
  let server: ServerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServerProcess({ DATABASE_URL: db.url });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it("compiles with tsc and prints progress to 100% and masked findings", async () => {
    const tsc = spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", example], { cwd: root, encoding: "utf8" });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);

    const run = spawnSync(process.execPath, [path.join(example, "dist", "main.js")], {
      cwd: example,
      encoding: "utf8",
      timeout: 60_000,
      env: { PATH: process.env.PATH, DG_URL: server.url, DG_TOKEN: await server.token("integrator") },
    });
    const out = run.stdout;
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const progress = [...out.matchAll(/^progress (\d+)% (\w+)/gm)].map((m) => ({ pct: Number(m[1]), status: m[2] }));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)).toEqual({ pct: 100, status: "SUCCEEDED" });
    // Non-decreasing: the subscription delivers the current state first, then each change in order.
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.pct).toBeGreaterThanOrEqual(progress[i - 1]!.pct);
    expect(out).toMatch(/^findings [1-9]\d* \(risk CRITICAL\)$/m);
    expect(out).toMatch(/^finding .*EMAIL\s+j\*\*\*@example\.nl/m);
    expect(out).toMatch(/^finding .*IBAN\s+NL\*\* \*\*\*\* \*\*\*\* \*\*\*\* 4300/m);
    // Masked only: the raw values of the sample never come back.
    expect(out).not.toContain("j.devries@example.nl");
    expect(out).not.toContain("NL91ABNA0417164300");
    expect(out).not.toContain("123456782");
    expect(out).toContain("session closed");
  }, 90_000);
});
