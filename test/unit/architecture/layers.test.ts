import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The directions ARCHITECTURE.md promises, read from the imports of src/ (issue 15.5).
 * A failure names the file and what it imports; fix the import, or change the document and
 * this test together.
 */
const root = path.resolve(import.meta.dirname, "../../../src");

interface Edge {
  /** importing file, relative to src/ */
  from: string;
  /** imported file, relative to src/ */
  to: string;
  /** `import type`, or every name in braces marked `type` */
  typeOnly: boolean;
}

const STATIC = /^\s*(?:import|export)\s+(type\s+)?([^;]*?)\s*from\s*["']([^"']+)["']/gm;
const BARE = /^\s*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function typeOnly(typeKeyword: string | undefined, clause: string): boolean {
  if (typeKeyword) return true;
  const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
  if (!braces) return false;
  const names = braces[1]!.split(",").map((n) => n.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith("type "));
}

function edgesOf(file: string): Edge[] {
  const text = readFileSync(path.join(root, file), "utf8");
  const dir = path.dirname(file);
  const out: Edge[] = [];
  const add = (spec: string, isType: boolean) => {
    if (!spec.startsWith(".")) return; // a package
    out.push({ from: file, to: path.normalize(path.join(dir, spec)).replace(/\.js$/, ".ts"), typeOnly: isType });
  };
  for (const m of text.matchAll(STATIC)) add(m[3]!, typeOnly(m[1], m[2]!));
  for (const m of text.matchAll(BARE)) add(m[1]!, false);
  for (const m of text.matchAll(DYNAMIC)) add(m[1]!, false);
  return out;
}

const files = readdirSync(root, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith(".ts"))
  .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
  .filter((f) => !f.startsWith("generated/"));
const edges = files.flatMap(edgesOf);

/** config → shared → platform → modules → graphql → http → app → entry points; a file imports its own layer or lower ones. */
const LAYERS: Array<[string, (file: string) => boolean]> = [
  ["config", (f) => f.startsWith("config/")],
  ["shared", (f) => f.startsWith("shared/")],
  ["platform", (f) => f.startsWith("platform/") || f.startsWith("generated/")],
  ["modules", (f) => f.startsWith("modules/")],
  ["graphql", (f) => f.startsWith("graphql/")],
  ["http", (f) => f.startsWith("http/")],
  ["app", (f) => f === "app.ts"],
  ["entry", (f) => ["main.ts", "worker.ts", "cli.ts"].includes(f)],
];
const layerOf = (file: string): number => {
  const i = LAYERS.findIndex(([, test]) => test(file));
  if (i < 0) throw new Error(`${file} is in no layer of ARCHITECTURE.md`);
  return i;
};
const moduleOf = (file: string): string | null => (file.startsWith("modules/") ? file.split("/")[1]! : null);

/** The accepted exception of ARCHITECTURE.md: resolvers import the context type. */
const RESOLVER_CONTEXT = "graphql/context.ts";

/** Module → modules it may import (besides itself); every module may import detection. */
const MODULE_DEPS: Record<string, readonly string[]> = {
  capacity: ["scans"],
  scans: ["connections", "sessions"],
  connections: ["sessions"],
  payments: ["sessions"],
  sessions: ["viewer"],
  viewer: [],
  reports: [],
  detection: [],
};

const show = (list: Edge[]) => list.map((e) => `${e.from} -> ${e.to}${e.typeOnly ? " (type)" : ""}`);

describe("layers (ARCHITECTURE.md)", () => {
  it("reads the imports it judges", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: "modules/scans/scan.resolver.ts", to: RESOLVER_CONTEXT, typeOnly: true });
  });

  it("every file sits in a layer", () => {
    for (const f of files) expect(() => layerOf(f), f).not.toThrow();
  });

  it("imports point down the layers, but for resolvers' context type", () => {
    const upward = edges.filter((e) => layerOf(e.to) > layerOf(e.from));
    const accepted = (e: Edge) => e.to === RESOLVER_CONTEXT && moduleOf(e.from) !== null && e.typeOnly;
    expect(show(upward.filter((e) => !accepted(e)))).toEqual([]);
  });

  it("config and shared import nothing from the rest of src", () => {
    const out = edges.filter((e) => (e.from.startsWith("config/") || e.from.startsWith("shared/")) && layerOf(e.to) !== layerOf(e.from));
    expect(show(out)).toEqual([]);
  });

  it("platform imports no module", () => {
    expect(show(edges.filter((e) => e.from.startsWith("platform/") && moduleOf(e.to) !== null))).toEqual([]);
  });

  it("detection imports only shared", () => {
    const out = edges.filter((e) => moduleOf(e.from) === "detection" && moduleOf(e.to) !== "detection" && !e.to.startsWith("shared/"));
    expect(show(out)).toEqual([]);
  });

  it("modules import only the modules they are allowed to (capacity → scans → connections → sessions → viewer, payments → sessions, any → detection)", () => {
    const out = edges.filter((e) => {
      const a = moduleOf(e.from);
      const b = moduleOf(e.to);
      if (a === null || b === null || a === b || b === "detection") return false;
      return !(MODULE_DEPS[a] ?? []).includes(b);
    });
    expect(show(out)).toEqual([]);
  });

  it("other modules reach detection through its index only", () => {
    const out = edges.filter((e) => moduleOf(e.to) === "detection" && moduleOf(e.from) !== "detection" && e.to !== "modules/detection/index.ts");
    expect(show(out)).toEqual([]);
  });

  it("the module list is the one the document names", () => {
    const modules = [...new Set(files.map(moduleOf).filter((m): m is string => m !== null))].sort();
    expect(modules).toEqual(Object.keys(MODULE_DEPS).sort());
  });
});
