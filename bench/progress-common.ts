/**
 * Shared by the bench/progress* processes: a tiny IPC request/response channel between the
 * orchestrator (progress.bench.ts) and its children, the publish loops the two servers share,
 * and the wire shape of one progress delivery.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { onLines } from "../test/support/lines.js";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const SUBSCRIPTION = /* GraphQL */ `subscription Progress($scanId: ID!) {
  scanProgress(scanId: $scanId) { scanId status progress stage itemsProcessed itemsTotal queuePosition findingsCount seq }
}`;

export interface BenchScan {
  id: string;
  ownerId: string;
  sessionId: string;
}

type Handler = (arg: any) => unknown;

/** In a child: answers `{ id, cmd, arg }` messages with `{ id, ok, result | error }`. */
export function serveRpc(handlers: Record<string, Handler>): void {
  process.on("message", (m: { id: number; cmd: string; arg: unknown }) => {
    Promise.resolve()
      .then(() => {
        const h = handlers[m.cmd];
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        return h(m.arg);
      })
      .then(
        (result) => process.send!({ id: m.id, ok: true, result }),
        (err: unknown) => process.send!({ id: m.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // The orchestrator died or finished: do not linger.
  process.on("disconnect", () => process.exit(0));
}

export interface BenchChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly output: string[];
  rpc<T = any>(cmd: string, arg?: unknown): Promise<T>;
  /** Resolves with the first output line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  kill(): Promise<void>;
}

/**
 * Spawns `node <entry>` under bash with a raised file-descriptor limit (5,000 sockets plus
 * PostgreSQL connections need more than many defaults allow), with an IPC channel.
 */
export function spawnChild(entry: string, env: Record<string, string | undefined>, nodeFlags: string[] = []): BenchChild {
  const node = JSON.stringify(process.execPath);
  const flags = ["--expose-gc", "--import", "@swc-node/register/esm-register", ...nodeFlags].join(" ");
  const script = `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${node} ${flags} ${JSON.stringify(entry)}`;
  const child = spawn("bash", ["-c", script], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const output: string[] = [];
  const lineWaiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    onLines(stream, (line) => {
      output.push(line);
      if (output.length > 2000) output.shift();
      if (process.env.BENCH_VERBOSE) console.error(`[${path.basename(entry)}] ${line}`);
      for (const w of [...lineWaiters]) {
        if (w.pattern.test(line)) {
          lineWaiters.splice(lineWaiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  }
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  child.on("message", (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(m.error));
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      for (const p of pending.values()) p.reject(new Error(`${entry} exited (${code ?? signal}):\n${output.slice(-30).join("\n")}`));
      pending.clear();
      resolve();
    }),
  );
  return {
    child,
    pid: child.pid!,
    output,
    rpc(cmd, arg) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, arg });
      });
    },
    waitFor(pattern, timeoutMs) {
      const seen = output.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${entry}: no line matching ${pattern} in ${timeoutMs} ms:\n${output.slice(-30).join("\n")}`)), timeoutMs);
        lineWaiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${entry} exited before ${pattern}:\n${output.slice(-30).join("\n")}`));
        });
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

export function memory(): { rss: number; heapUsed: number; external: number } {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers };
}

const cpuNow = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

export interface LoopResult {
  bursts: number;
  published: number;
  wallMs: number;
  cpuUs: number;
  /** Largest delay of a burst behind its schedule (ms): the publisher itself fell behind. */
  maxBehindMs: number;
}

/**
 * Publishes one event for every scan `hz` times a second for `seconds`; a burst that is due
 * while the loop was busy is published late (catch-up), so the offered rate holds.
 */
export async function rateLoop(burst: (seq: number) => number, firstSeq: number, hz: number, seconds: number): Promise<LoopResult & { nextSeq: number }> {
  const total = Math.max(1, Math.round(hz * seconds));
  const cpu0 = cpuNow();
  const t0 = performance.now();
  let seq = firstSeq;
  let bursts = 0;
  let published = 0;
  let maxBehindMs = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - t0;
      const due = Math.min(total, Math.floor((elapsed / 1000) * hz) + 1);
      while (bursts < due) {
        maxBehindMs = Math.max(maxBehindMs, elapsed - (bursts / hz) * 1000);
        published += burst(seq++);
        bursts++;
      }
      if (bursts >= total) return resolve();
      setTimeout(tick, Math.max(0, (bursts / hz) * 1000 - (performance.now() - t0)));
    };
    tick();
  });
  return { bursts, published, wallMs: performance.now() - t0, cpuUs: cpuNow() - cpu0, maxBehindMs, nextSeq: seq };
}

/** Bursts back to back for `seconds`, each after `settle()` (a turn of the event loop, or drained sockets). */
export async function maxLoop(burst: (seq: number) => number, firstSeq: number, seconds: number, settle: () => Promise<void>): Promise<LoopResult & { nextSeq: number }> {
  const cpu0 = cpuNow();
  const t0 = performance.now();
  let seq = firstSeq;
  let bursts = 0;
  let published = 0;
  while (performance.now() - t0 < seconds * 1000) {
    published += burst(seq++);
    bursts++;
    await settle();
  }
  return { bursts, published, wallMs: performance.now() - t0, cpuUs: cpuNow() - cpu0, maxBehindMs: 0, nextSeq: seq };
}

export async function idleCpu(ms: number): Promise<{ cpuUs: number; wallMs: number }> {
  const cpu0 = cpuNow();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return { cpuUs: cpuNow() - cpu0, wallMs: performance.now() - t0 };
}

export const turn = () => new Promise<void>((r) => setImmediate(r));
