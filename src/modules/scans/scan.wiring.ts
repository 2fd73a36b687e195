import { availableParallelism } from "node:os";
import type { Redis } from "ioredis";
import type { Config } from "../../config/config.js";
import { deriveKey, type Keyring } from "../../platform/crypto/secret-box.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { PubSub } from "../../platform/pubsub/pubsub.js";
import { BullMqScanQueue } from "../../platform/queue/bullmq.queue.js";
import { InProcessScanQueue } from "../../platform/queue/in-process.queue.js";
import type { ScanQueue } from "../../platform/queue/scan-queue.js";
import { createRedis } from "../../platform/redis/redis.js";
import { ConnectionSecretError, type ConnectionService } from "../connections/connection.service.js";
import { ScanInputError } from "./scanners/scanner.types.js";
import type { ScanEvents } from "./scan-events.js";
import { createInputBox } from "./input-box.js";
import { ScanRunner } from "./scan-runner.js";
import { createDetectionPool } from "./scanners/detection-pool.js";
import { ScanWorkerHost } from "./scan-worker.js";
import type { ScanWorkerRepo } from "./scan-worker.repo.js";

/** BullMQ when REDIS_URL is set (scans spread over every worker process), else in-process. */
export async function createScanQueue(config: Config, log: Logger, redis: Redis | null): Promise<ScanQueue> {
  if (!config.REDIS_URL || !redis) return new InProcessScanQueue();
  const url = config.REDIS_URL;
  const queue = new BullMqScanQueue({
    connection: createRedis(url, "dg-queue", log, { maxRetriesPerRequest: null }),
    workerConnection: () => createRedis(url, "dg-queue-worker", log, { maxRetriesPerRequest: null }),
    prefix: config.REDIS_PREFIX,
    maxConcurrent: config.MAX_CONCURRENT_SCANS,
    lockDurationMs: config.SCAN_STALL_TIMEOUT,
    log,
  });
  await queue.init();
  return queue;
}

export const SECRET_UNAVAILABLE_MESSAGE =
  "The stored password of this connection cannot be read with the server's current encryption key; save the connection again (with its password), then start the scan again";

/** Starts this process's scan workers (SCAN_WORKERS of them); null when it runs none. */
export async function startScanWorker(deps: {
  config: Config;
  log: Logger;
  instanceId: string;
  keyring: Keyring;
  repo: ScanWorkerRepo;
  events: ScanEvents;
  queue: ScanQueue;
  pubsub: PubSub;
  connections: Pick<ConnectionService, "loadScanTarget" | "hostPolicy">;
  /** The capacity monitor's hold on new scans (capacity.port.ts). */
  capacityHold?: () => string | null;
}): Promise<{ host: ScanWorkerHost; stop(graceMs: number): Promise<void> } | null> {
  const { config, log } = deps;
  if (config.SCAN_WORKERS === 0) {
    if (!config.REDIS_URL) log.warn("SCAN_WORKERS=0 without REDIS_URL: no process will run this instance's scans");
    return null;
  }
  // Detection off the event loop: a worker-thread pool shared by this process's scans.
  const threads = config.DETECTION_THREADS ?? Math.max(1, availableParallelism());
  const threadHeapBytes = config.SCAN_THREAD_MEMORY;
  const pool = threads > 0 ? createDetectionPool({ threads, maxHeapMb: Math.max(16, Math.floor(threadHeapBytes / (1024 * 1024))) }) : null;
  const runner = new ScanRunner({
    repo: deps.repo,
    events: deps.events,
    log: log.child({ module: "scans" }),
    hashKey: deriveKey(deps.keyring, "finding-hash").toString("hex"),
    phoneRegions: config.DETECTION_PHONE_REGIONS,
    hostPolicy: deps.connections.hostPolicy,
    progressIntervalMs: config.SCAN_PROGRESS_INTERVAL,
    statementTimeoutMs: config.DATABASE_SCAN_STATEMENT_TIMEOUT,
    connectTimeoutMs: config.DATABASE_SCAN_CONNECT_TIMEOUT,
    // A password the current keys cannot open fails the scan with what to do, not "failed unexpectedly" (issue 12).
    loadDatabaseTarget: (ownerId, connectionId) =>
      deps.connections.loadScanTarget(ownerId, connectionId).catch((err: unknown) => {
        throw err instanceof ConnectionSecretError ? new ScanInputError(err.code, SECRET_UNAVAILABLE_MESSAGE) : err;
      }),
    ...(pool
      ? {
          workers: {
            extract: pool.extract.bind(pool),
            detectChunk: pool.detectChunk.bind(pool),
            detectCells: pool.detectCells.bind(pool),
            parallelism: Math.min(4, pool.threads),
          },
        }
      : {}),
    maxFindings: config.MAX_FINDINGS_PER_SCAN,
    inputBox: createInputBox(deps.keyring),
    inputTimeoutMs: config.SCAN_INPUT_TIMEOUT,
    maxTextBytes: 4 * config.MAX_DOCUMENT_BYTES,
    threadHeapBytes,
  });
  const host = new ScanWorkerHost(
    { repo: deps.repo, queue: deps.queue, pubsub: deps.pubsub, events: deps.events, runner, log: log.child({ module: "scan-worker" }), capacityHold: deps.capacityHold },
    {
      workerId: deps.instanceId,
      concurrency: Math.min(config.SCAN_WORKERS, config.MAX_CONCURRENT_SCANS),
      maxConcurrent: config.MAX_CONCURRENT_SCANS,
      maxAttempts: config.SCAN_MAX_ATTEMPTS,
      stallMs: config.SCAN_STALL_TIMEOUT,
      heartbeatMs: config.SCAN_HEARTBEAT_INTERVAL,
    },
  );
  await host.start();
  return {
    host,
    async stop(graceMs: number) {
      await host.stop(graceMs);
      await pool?.close();
    },
  };
}
