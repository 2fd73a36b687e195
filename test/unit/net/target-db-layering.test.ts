import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Issue 15.1: the client for scanned databases is infrastructure (src/platform/target-db), so
 * `connections` reaches it there, and the platform never reaches back into modules.
 */
const root = path.resolve(import.meta.dirname, "../../../src");
const importsOf = (dir: string): Array<[string, string]> =>
  readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .flatMap((e) => {
      const file = path.join(e.parentPath, e.name);
      const text = readFileSync(file, "utf8");
      return [...text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => [path.relative(root, file), m[1]!] as [string, string]);
    });

describe("target-database client layering", () => {
  it("connections imports nothing from scans", () => {
    expect(importsOf("modules/connections").filter(([, spec]) => spec.includes("/scans/"))).toEqual([]);
  });

  it("platform/target-db and platform/net import nothing from modules, graphql or http", () => {
    const out = [...importsOf("platform/target-db"), ...importsOf("platform/net"), ...importsOf("platform/rate-limit")].filter(([, spec]) =>
      /\/(modules|graphql|http)\//.test(spec),
    );
    expect(out).toEqual([]);
  });

  it("the engine sessions live one per file in platform/target-db", () => {
    const files = readdirSync(path.join(root, "platform/target-db"));
    expect(files).toEqual(expect.arrayContaining(["pg.session.ts", "mysql.session.ts", "errors.ts", "connect.ts", "target.ts", "wire-guard.ts"]));
  });
});
