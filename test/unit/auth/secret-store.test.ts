import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { loadOrCreateSecret } from "../../../src/platform/auth/secret-store.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dg-secrets-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("loadOrCreateSecret", () => {
  it("creates the secret once (base64url, requested size, 0600 in a 0700 dir) and reuses it", async () => {
    const dataDir = await tempDir();
    const first = await loadOrCreateSecret(dataDir, "jwt-secret");
    expect(first).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(first, "base64url").length).toBe(48);

    const file = join(dataDir, "secrets", "jwt-secret");
    expect((await readFile(file, "utf8")).trim()).toBe(first);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, "secrets"))).mode & 0o777).toBe(0o700);

    expect(await loadOrCreateSecret(dataDir, "jwt-secret")).toBe(first);
    expect(Buffer.from(await loadOrCreateSecret(dataDir, "other", 32), "base64url").length).toBe(32);
    expect(await loadOrCreateSecret(dataDir, "other", 32)).not.toBe(first);
    // No temporary files left behind.
    expect((await readdir(join(dataDir, "secrets"))).sort()).toEqual(["jwt-secret", "other"]);
  });

  it("reuses a secret written by hand (trimmed), and makes a world-readable file private", async () => {
    const dataDir = await tempDir();
    await loadOrCreateSecret(dataDir, "jwt-secret");
    const file = join(dataDir, "secrets", "jwt-secret");
    await writeFile(file, "my-own-secret-value\n");
    await chmod(file, 0o644);
    expect(await loadOrCreateSecret(dataDir, "jwt-secret")).toBe("my-own-secret-value");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("concurrent calls in one process agree", async () => {
    const dataDir = await tempDir();
    const values = await Promise.all(Array.from({ length: 25 }, () => loadOrCreateSecret(dataDir, "race")));
    expect(new Set(values).size).toBe(1);
    expect(await loadOrCreateSecret(dataDir, "race")).toBe(values[0]);
    expect(await readdir(join(dataDir, "secrets"))).toEqual(["race"]);
  });

  it("concurrent processes agree", async () => {
    const dataDir = await tempDir();
    const moduleUrl = pathToFileURL(resolve("src/platform/auth/secret-store.ts")).href;
    const script =
      `const { loadOrCreateSecret } = await import(${JSON.stringify(moduleUrl)});` +
      `const all = await Promise.all([1,2,3,4].map(() => loadOrCreateSecret(${JSON.stringify(dataDir)}, "race")));` +
      `process.stdout.write(JSON.stringify(all));`;
    const run = promisify(execFile);
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ["--import", "@swc-node/register/esm-register", "--input-type=module", "-e", script], {
          timeout: 20_000,
        }),
      ),
    );
    const values = outputs.flatMap(({ stdout }) => JSON.parse(stdout) as string[]);
    expect(values).toHaveLength(16);
    expect(new Set(values).size).toBe(1);
    expect((await readFile(join(dataDir, "secrets", "race"), "utf8")).trim()).toBe(values[0]);
  });

  it.each(["../escape", "a/b", "", ".hidden", "x".repeat(65)])("refuses the name %j", async (name) => {
    await expect(loadOrCreateSecret(await tempDir(), name)).rejects.toThrow(/name/);
  });
});
