/**
 * bench/progress: the real server (startApp, MemoryPubSub, PostgreSQL at DATABASE_URL) in its
 * own process, plus a bench-only publisher that stands in for the scan workers: it calls the
 * app's ScanEvents.publish (scan topic + owner topic) for every bench scan, `stage` carrying
 * process.hrtime.bigint() at publish time. Driven over IPC by progress.bench.ts.
 */
import "reflect-metadata";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector";
import { writeHeapSnapshot } from "node:v8";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config/config.js";
import { ScanEvents } from "../src/modules/scans/scan-events.js";
import { ScanKind, ScanStatus, type Scan } from "../src/modules/scans/scan.type.js";
import { createLogger } from "../src/platform/observability/logger.js";
import { idleCpu, maxLoop, memory, rateLoop, serveRpc, turn, type BenchScan } from "./progress-common.js";

const log = createLogger({ level: process.env.LOG_LEVEL ?? "warn", name: "bench-server" });
const config = loadConfig();
const app = await startApp(config, log);
const events = new ScanEvents(app.pubsub, log);

let scans: Scan[] = [];
let seq = 1;
const createdAt = new Date();

function burst(s: number): number {
  for (const scan of scans) {
    scan.seq = s;
    scan.itemsProcessed = s;
    scan.progress = (s % 100) / 100;
    scan.stage = String(process.hrtime.bigint());
    void events.publish(scan);
  }
  return scans.length;
}

const inspector = new Session();
inspector.connect();
const post = (method: string, params?: object) =>
  new Promise<any>((resolve, reject) => inspector.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));

serveRpc({
  async profileStart() {
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 200 });
    await post("Profiler.start");
    return true;
  },
  async profileStop(file: string) {
    const { profile } = await post("Profiler.stop");
    await writeFile(file, JSON.stringify(profile));
    return file;
  },
  scans(list: BenchScan[]) {
    scans = list.map((b) => ({
      id: b.id,
      ownerId: b.ownerId,
      sessionId: b.sessionId,
      kind: ScanKind.DOCUMENT,
      status: ScanStatus.RUNNING,
      progress: 0,
      stage: null,
      itemsProcessed: 0,
      itemsTotal: 1_000_000,
      findingsCount: 0,
      riskLevel: null,
      seq: 0,
      errorCode: null,
      errorMessage: null,
      createdAt,
      startedAt: createdAt,
      finishedAt: null,
    })) as Scan[];
    return scans.length;
  },
  memory: () => memory(),
  heapSnapshot: (file: string) => (memory(), writeHeapSnapshot(file)),
  counts: () => ({ clients: app.http!.ws.clientCount(), subscriptions: app.http!.ws.subscriptionCount() }),
  idle: (ms: number) => idleCpu(ms),
  async rate({ hz, seconds }: { hz: number; seconds: number }) {
    const r = await rateLoop(burst, seq, hz, seconds);
    seq = r.nextSeq;
    return r;
  },
  async max({ seconds }: { seconds: number }) {
    const r = await maxLoop(burst, seq, seconds, async () => {
      await turn();
      await turn();
    });
    seq = r.nextSeq;
    return r;
  },
  async stop() {
    await app.stop();
    setTimeout(() => process.exit(0), 50);
  },
});

console.log(JSON.stringify({ msg: "bench server ready", port: app.port }));
