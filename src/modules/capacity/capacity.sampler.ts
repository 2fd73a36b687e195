import { readFile } from "node:fs/promises";
import os from "node:os";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/**
 * Host figures without blocking the event loop: CPU from deltas between two calls (never a
 * one-second busy sample, the original's mistake), memory from the OS and the container's
 * cgroup, event-loop delay from perf_hooks' histogram (reset at each read).
 */
export interface HostFigures {
  /** machine CPU busy since the previous read, 0..1 */
  cpu: number;
  /** this process's CPU since the previous read, as a fraction of the machine, 0..1 */
  processCpu: number;
  /** memory in use, 0..1: the machine's, or the container's when its cgroup limit is tighter */
  memoryUsed: number;
  rssBytes: number;
  /** event-loop delay p99 since the previous read, ms */
  eventLoopDelayMs: number;
  /** wall time the `cpu` reading covers, ms; 0 when the previous reading was kept (window too short) */
  cpuSpanMs: number;
  /** wall time the `eventLoopDelayMs` reading covers, ms */
  loopSpanMs: number;
}

/** Shortest window a CPU ratio is computed over. */
export const MIN_CPU_WINDOW_MS = 250;

interface CpuTimes {
  idle: number;
  total: number;
}

function machineCpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export class HostSampler {
  private cpuPrev: CpuTimes = machineCpuTimes();
  private procPrev = process.cpuUsage();
  private wallPrev = process.hrtime.bigint();
  private readonly loop: IntervalHistogram;
  private loopResetAt = process.hrtime.bigint();
  private readonly cpuCount = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  /** undefined: not probed yet; null: no cgroup limit */
  private cgroup: { limit: string; usage: string; stat?: string } | null | undefined;

  constructor() {
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
  }

  private lastCpu = 0;
  private lastProcessCpu = 0;

  /**
   * Starts the measuring windows afresh: what happened before (module loading, schema build,
   * migrations at start-up) is not the load the instance is under.
   */
  restart(): void {
    this.loop.reset();
    this.loopResetAt = process.hrtime.bigint();
    this.cpuPrev = machineCpuTimes();
    this.procPrev = process.cpuUsage();
    this.wallPrev = process.hrtime.bigint();
  }

  async read(): Promise<HostFigures> {
    // CPU times tick in 10 ms steps: over a window shorter than MIN_CPU_WINDOW_MS the ratio is
    // noise (a resample right after a sample), so the previous reading stands and the window grows.
    const wallNow = process.hrtime.bigint();
    const wallMs = Number(wallNow - this.wallPrev) / 1e6;
    let cpuSpanMs = 0;
    if (wallMs >= MIN_CPU_WINDOW_MS) {
      cpuSpanMs = wallMs;
      const cpuNow = machineCpuTimes();
      const dTotal = cpuNow.total - this.cpuPrev.total;
      const dIdle = cpuNow.idle - this.cpuPrev.idle;
      this.lastCpu = dTotal > 0 ? clamp01(1 - dIdle / dTotal) : this.lastCpu;
      this.cpuPrev = cpuNow;
      const proc = process.cpuUsage(this.procPrev);
      this.procPrev = process.cpuUsage();
      this.lastProcessCpu = clamp01((proc.user + proc.system) / 1000 / (wallMs * this.cpuCount));
      this.wallPrev = wallNow;
    }
    const cpu = this.lastCpu;
    const processCpu = this.lastProcessCpu;

    // percentile() is NaN-free only once something was recorded; 0 ns means no delay seen.
    const p99 = this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0;
    this.loop.reset();
    const loopSpanMs = Number(wallNow - this.loopResetAt) / 1e6;
    this.loopResetAt = wallNow;

    const total = os.totalmem();
    let memoryUsed = total > 0 ? clamp01(1 - os.freemem() / total) : 0;
    const container = await this.containerMemory();
    if (container && container.limit < total) memoryUsed = container.used / container.limit;

    return { cpu, processCpu, memoryUsed: clamp01(memoryUsed), rssBytes: process.memoryUsage.rss(), eventLoopDelayMs: p99, cpuSpanMs, loopSpanMs };
  }

  /** cgroup v2 (memory.max/current) or v1 (limit_in_bytes/usage_in_bytes), minus reclaimable page cache. */
  private async containerMemory(): Promise<{ used: number; limit: number } | null> {
    if (this.cgroup === undefined) {
      this.cgroup = null;
      for (const c of [
        { limit: "/sys/fs/cgroup/memory.max", usage: "/sys/fs/cgroup/memory.current", stat: "/sys/fs/cgroup/memory.stat" },
        { limit: "/sys/fs/cgroup/memory/memory.limit_in_bytes", usage: "/sys/fs/cgroup/memory/memory.usage_in_bytes", stat: "/sys/fs/cgroup/memory/memory.stat" },
      ]) {
        const limit = await readFile(c.limit, "utf8").catch(() => null);
        if (limit !== null) {
          this.cgroup = c;
          break;
        }
      }
    }
    if (!this.cgroup) return null;
    try {
      const [limitText, usageText, statText] = await Promise.all([
        readFile(this.cgroup.limit, "utf8"),
        readFile(this.cgroup.usage, "utf8"),
        this.cgroup.stat ? readFile(this.cgroup.stat, "utf8").catch(() => "") : Promise.resolve(""),
      ]);
      const limit = Number(limitText.trim());
      // "max" (v2) or a huge number (v1, no limit) means none.
      if (!Number.isFinite(limit) || limit <= 0 || limit > 2 ** 60) return null;
      const inactive = /^(?:total_)?inactive_file (\d+)$/m.exec(statText);
      const used = Math.max(0, Number(usageText.trim()) - (inactive ? Number(inactive[1]) : 0));
      return { used, limit };
    } catch {
      return null;
    }
  }

  close(): void {
    this.loop.disable();
  }
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}
