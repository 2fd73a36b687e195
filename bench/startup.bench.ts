/**
 * Start-up time and idle memory of the server as `npm start` runs it (issue 2): spawns
 * `node --import @swc-node/register/esm-register src/main.ts` with NODE_ENV=development and no
 * DATABASE_URL (so the embedded PostgreSQL under DATA_DIR), and times spawn → "server ready" line:
 *   - fresh: a new, empty DATA_DIR each run (initdb, migrations, generated secrets);
 *   - reused: the same DATA_DIR again (cluster, migrations and secrets already there).
 * Then the RSS (VmRSS) of the idle server 5 s after ready: node alone, and node plus its
 * PostgreSQL processes (the cost of `npm start` on a machine).
 *
 *   node --import @swc-node/register/esm-register bench/startup.bench.ts
 *   (BENCH_RUNS=3: runs per case, the median is reported)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { comm, descendants, vmRssKb } from "./proc.js";
import { onLines } from "../test/support/lines.js";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.env.BENCH_RUNS ?? 3);
const idleMs = 5_000;

interface Run {
  readyMs: number;
  rssKb: number;
  /** node + every PostgreSQL process it started. */
  totalRssKb: number;
  postgresProcesses: number;
}



async function startOnce(dataDir: string): Promise<Run> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "src/main.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready in 120 s:\n${output.join("\n")}`)), 120_000);
      for (const stream of [child.stdout!, child.stderr!]) {
        onLines(stream, (line) => {
          output.push(line);
          if (line.includes("server ready")) {
            clearTimeout(timer);
            resolve(Number(process.hrtime.bigint() - started) / 1e6);
          }
        });
      }
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before ready:\n${output.join("\n")}`));
      });
    });
    await new Promise((r) => setTimeout(r, idleMs));
    const rssKb = vmRssKb(child.pid!);
    const postgres = descendants(child.pid!).filter((pid) => comm(pid).startsWith("postgres"));
    // RSS double-counts PostgreSQL's shared buffers across its processes: an upper bound.
    const totalRssKb = rssKb + postgres.reduce((sum, pid) => sum + (safe(() => vmRssKb(pid)) ?? 0), 0);
    return { readyMs, rssKb, totalRssKb, postgresProcesses: postgres.length };
  } finally {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average at start ${load()}; ${runs} runs per case, ${idleMs / 1000} s idle before RSS`);

const dirs: string[] = [];
const results: Record<"fresh" | "reused", Run[]> = { fresh: [], reused: [] };
try {
  const reusedDir = mkdtempSync(path.join(os.tmpdir(), "dg-startup-reused-"));
  dirs.push(reusedDir);
  // Prime the reused directory (that first start is a fresh start too, not counted).
  await startOnce(reusedDir);
  for (let i = 1; i <= runs; i++) {
    // Alternate the cases so background load spreads over both.
    const fresh = mkdtempSync(path.join(os.tmpdir(), "dg-startup-fresh-"));
    dirs.push(fresh);
    const f = await startOnce(fresh);
    results.fresh.push(f);
    console.log(`  run ${i} fresh:  ready in ${f.readyMs.toFixed(0)} ms, idle RSS ${(f.rssKb / 1024).toFixed(0)} MiB (load ${os.loadavg()[0]!.toFixed(2)})`);
    rmSync(fresh, { recursive: true, force: true });
    const r = await startOnce(reusedDir);
    results.reused.push(r);
    console.log(`  run ${i} reused: ready in ${r.readyMs.toFixed(0)} ms, idle RSS ${(r.rssKb / 1024).toFixed(0)} MiB (load ${os.loadavg()[0]!.toFixed(2)})`);
  }
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

console.log(`\nMedian of ${runs} (load average now ${load()}):\n`);
console.log("| DATA_DIR | spawn → server ready | idle RSS, node | idle RSS, node + PostgreSQL (upper bound) |");
console.log("|---|---:|---:|---:|");
for (const kind of ["fresh", "reused"] as const) {
  const rs = results[kind];
  const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
  console.log(
    `| ${kind} | ${(median(rs.map((r) => r.readyMs)) / 1000).toFixed(2)} s (${rs.map((r) => (r.readyMs / 1000).toFixed(2)).join(", ")}) | ` +
      `${mib(median(rs.map((r) => r.rssKb)))} | ${mib(median(rs.map((r) => r.totalRssKb)))} (${rs[0]!.postgresProcesses} processes) |`,
  );
}
