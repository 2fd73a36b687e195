import "reflect-metadata";
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";
import type { Config } from "./config/config.js";
import { buildAppSchema } from "./graphql/schema.js";
import type { AppServices } from "./graphql/services.js";
import { createQueryLimits } from "./graphql/limits.js";
import { createHttpApp, type HttpApp, type ReadinessCheck } from "./http/server.js";
import { startProbeServer } from "./http/probes.js";
import { metricsGate, startMetricsServer } from "./http/metrics-access.js";
import { mountWebClients } from "./http/web-clients.js";
import { mountReports } from "./http/reports.js";
import type { Express } from "express";
import { ActivityTracker } from "./modules/viewer/activity.service.js";
import { CapacityMonitor, capacitySettingsFrom } from "./modules/capacity/capacity.service.js";
import { CapacityRepo } from "./modules/capacity/capacity.repo.js";
import { UserRepo } from "./modules/viewer/user.repo.js";
import { SessionRepo } from "./modules/sessions/session.repo.js";
import { noopBeforeDelete, SessionService, type BeforeSessionsDelete } from "./modules/sessions/session.service.js";
import { SessionExpiryJob } from "./modules/sessions/session-expiry.job.js";
import { ConnectionRepo } from "./modules/connections/connection.repo.js";
import { ConnectionService, PASSWORD_PURPOSE } from "./modules/connections/connection.service.js";
import { checkKeyring, PgKeyCheckStore } from "./platform/crypto/key-check.js";
import { PaymentRepo } from "./modules/payments/payment.repo.js";
import { PaymentService } from "./modules/payments/payment.service.js";
import { hostPolicyFromConfig } from "./platform/net/host-policy.js";
import { createRateLimiter } from "./platform/rate-limit/rate-limiter.js";
import { createTokenVerifier, type JwtSettings } from "./platform/auth/jwt.js";
import { loadOrCreateSecret } from "./platform/auth/secret-store.js";
import { loadKeyring, type Keyring } from "./platform/crypto/secret-box.js";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "./platform/db/embedded.js";
import { applyMigrations } from "./platform/db/migrate.js";
import { createPool, poolStats, waitForDatabase } from "./platform/db/pool.js";
import { createPrisma, type PrismaClient } from "./platform/db/prisma.js";
import type { Logger } from "./platform/observability/logger.js";
import { createMetrics, type Metrics } from "./platform/observability/metrics.js";
import { createPubSub } from "./platform/pubsub/create.js";
import type { PubSub } from "./platform/pubsub/pubsub.js";
import { createRedis, waitForRedis } from "./platform/redis/redis.js";
import { Gauge } from "prom-client";
import { ScanOwnerRepo } from "./modules/scans/scan-owner.repo.js";
import { ScanWorkerRepo } from "./modules/scans/scan-worker.repo.js";
import { createInputBox } from "./modules/scans/input-box.js";
import { ScanEvents } from "./modules/scans/scan-events.js";
import { ScanService } from "./modules/scans/scan.service.js";
import { ScanFeed } from "./modules/scans/scan-feed.service.js";
import { ScanFeedRepo } from "./modules/scans/scan-feed.repo.js";
import { ScanPages } from "./modules/scans/scan-pages.service.js";
import { ScanPagesRepo } from "./modules/scans/scan-pages.repo.js";
import { ScanMaintenanceJob } from "./modules/scans/scan-maintenance.job.js";
import { createScanQueue, startScanWorker } from "./modules/scans/scan.wiring.js";

/** Everything a running instance holds, in the order it is shut down (reverse of start). */
export interface RunningApp {
  readonly config: Config;
  readonly instanceId: string;
  readonly port: number;
  readonly url: string;
  readonly prisma: PrismaClient;
  readonly pool: pg.Pool;
  readonly services: AppServices;
  readonly metrics: Metrics;
  readonly pubsub: PubSub;
  /** Null in a worker process (`npm run worker`), which serves no HTTP. */
  readonly http: HttpApp | null;
  /** The HMAC secret in use (generated under DATA_DIR when JWT_SECRET is unset); null with JWKS. */
  readonly jwtSecret: string | null;
  readonly keyring: Keyring;
  /** Idempotent ordered shutdown. */
  stop(): Promise<void>;
}

/**
 * The composition root: config → platform → services → schema → HTTP + WS. Used by
 * `npm start` (src/main.ts) and by the tests that need a whole server in-process.
 */
export async function startApp(config: Config, log: Logger, options: { role?: "api" | "worker" } = {}): Promise<RunningApp> {
  const role = options.role ?? "api";
  const instanceId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const cleanups: Array<{ name: string; run: () => Promise<unknown> }> = [];
  const onStop = (name: string, run: () => Promise<unknown>) => cleanups.unshift({ name, run });
  const stopAll = async () => {
    for (const { name, run } of cleanups) {
      const started = Date.now();
      try {
        await run();
        log.debug({ step: name, ms: Date.now() - started }, "shutdown step done");
      } catch (err) {
        log.warn({ err, step: name }, "shutdown step failed");
      }
    }
  };

  try {
    // Database: configured, or a real PostgreSQL embedded under DATA_DIR.
    let databaseUrl = config.DATABASE_URL;
    let embedded: EmbeddedPostgresHandle | null = null;
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, log });
      onStop("embedded postgres", () => embedded!.stop());
      databaseUrl = embedded.connectionString;
    }
    const pool = createPool({
      connectionString: databaseUrl,
      max: config.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT,
      idleTimeoutMillis: config.DATABASE_IDLE_TIMEOUT,
      log,
    });
    onStop("database pool", () => pool.end());
    await waitForDatabase(pool, { log, timeoutMs: config.STARTUP_TIMEOUT });
    await applyMigrations(databaseUrl, log);
    const prisma = createPrisma(pool);
    onStop("prisma", () => prisma.$disconnect());

    // Redis (scaled out) or in-process.
    let redis: Redis | null = null;
    if (config.REDIS_URL) {
      redis = createRedis(config.REDIS_URL, "dg-main", log);
      onStop("redis", () => redis!.quit());
      await waitForRedis(redis, log, config.STARTUP_TIMEOUT);
    }
    const pubsub: PubSub = createPubSub(config, log);
    onStop("pubsub", () => pubsub.close());

    // Secrets: generated once under DATA_DIR when not configured.
    const jwtSecret = config.JWKS_URL ? null : (config.JWT_SECRET ?? (await loadOrCreateSecret(config.DATA_DIR, "jwt-secret")));
    const jwtSettings: JwtSettings = {
      secret: jwtSecret ?? undefined,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      jwksUrl: config.JWKS_URL,
      algorithms: config.JWT_ALGORITHMS?.split(",").map((a) => a.trim()).filter(Boolean),
    };
    const verifier = createTokenVerifier(jwtSettings, { log: log.child({ module: "auth" }) });
    const keyring = await loadKeyring({ encryptionKey: config.ENCRYPTION_KEY, dataDir: config.DATA_DIR });
    // Keys that disagree are caught here, not at the first scan (issue 12): one line naming ENCRYPTION_KEY.
    const keyCheck = await checkKeyring(keyring, new PgKeyCheckStore(pool, [{ table: "DatabaseConnection", ciphertext: "passwordCiphertext", purpose: PASSWORD_PURPOSE }]));
    if (keyCheck.recorded.length > 0) log.info({ keyIds: keyCheck.recorded }, "encryption key fingerprints recorded");

    const metrics = createMetrics({ instanceId });
    registerPoolGauges(metrics, pool);

    const activity = new ActivityTracker(prisma, log, { sessionTtlMs: config.SESSION_TTL });
    activity.start();
    onStop("activity tracker", () => activity.stop());
    // Sessions, connections, payments (issue 3). Running scans in a closed or expired session are
    // cancelled first: the scans module assigns `beforeSessionsDelete` once it exists.
    let beforeSessionsDelete: BeforeSessionsDelete = noopBeforeDelete;
    const sessions = new SessionService(new SessionRepo(prisma), activity, {
      sessionTtlMs: config.SESSION_TTL,
      maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
      rowCaps: { payments: config.MAX_PAYMENTS_PER_SESSION, connections: config.MAX_CONNECTIONS_PER_SESSION },
      beforeDelete: (ownerId, sessionIds) => beforeSessionsDelete(ownerId, sessionIds),
    });
    const connections = new ConnectionService(new ConnectionRepo(prisma), sessions, keyring, log, {
      // Loopback outside production; the server's own database (DATABASE_URL or the embedded one) never.
      hostPolicy: hostPolicyFromConfig(config, databaseUrl),
      connectTimeoutMs: config.DATABASE_SCAN_CONNECT_TIMEOUT,
      // Per user, across instances when Redis is configured (issue 12.2).
      rateLimit: config.DATABASE_TEST_RATE_LIMIT,
      rateLimiter: createRateLimiter(config.DATABASE_TEST_RATE_LIMIT, redis, config.REDIS_PREFIX),
    });
    const payments = new PaymentService(new PaymentRepo(prisma), sessions, log);
    const sessionExpiry = new SessionExpiryJob(prisma, log, {
      instanceId,
      sessionTtlMs: config.SESSION_TTL,
      beforeDelete: sessions.beforeDelete,
      registry: metrics.registry,
    });
    sessionExpiry.start();
    onStop("session expiry job", () => sessionExpiry.stop());
    // Capacity monitor (issue 6): built with the services, started once HTTP + WS exist (it reads their counts).
    let httpForCapacity: HttpApp | null = null;
    const capacity = new CapacityMonitor({
      instanceId,
      kind: role,
      repo: new CapacityRepo(prisma),
      pool,
      pubsub,
      activity,
      metrics,
      log: log.child({ module: "capacity" }),
      settings: capacitySettingsFrom(config),
      connections: () => ({ clients: httpForCapacity?.ws.clientCount() ?? 0, subscriptions: httpForCapacity?.ws.subscriptionCount() ?? 0 }),
    });
    // Scans (issue 5): the queue port (BullMQ on Redis, or in-process), workers in this process
    // unless SCAN_WORKERS=0, and the maintenance job that sweeps lost workers' scans.
    const scanRepo = new ScanOwnerRepo(prisma, pool);
    const scanWorkerRepo = new ScanWorkerRepo(prisma, pool);
    const scanEvents = new ScanEvents(pubsub, log, () => capacity.claimHold());
    const scanQueue = await createScanQueue(config, log, redis);
    onStop("scan queue", () => scanQueue.close());
    const scans = new ScanService({
      repo: scanRepo,
      events: scanEvents,
      queue: scanQueue,
      log,
      inputBox: createInputBox(keyring),
      limits: {
        perUser: config.MAX_SCANS_PER_USER,
        maxConcurrent: config.MAX_CONCURRENT_SCANS,
        maxQueued: config.MAX_QUEUED_SCANS,
        maxDocuments: config.MAX_DOCUMENTS_PER_SCAN,
        maxDocumentBytes: config.MAX_DOCUMENT_BYTES,
        maxScanBytes: config.MAX_SCAN_BYTES,
        maxRequestBytes: config.MAX_BODY_SIZE,
      },
      collaborators: {
        requireSession: async (ownerId, sessionId) => void (await sessions.requireOwned(ownerId, sessionId)),
        requireConnection: async (ownerId, connectionId) => ({ name: (await connections.requireScannable(ownerId, connectionId)).name }),
        touchSession: (ownerId, sessionId) => sessions.touch(ownerId, sessionId),
        admissionVerdict: () => capacity.admissionVerdict(),
        claimHold: () => capacity.claimHold(),
      },
    });
    beforeSessionsDelete = (ownerId, sessionIds) => scans.cancelInSessions(ownerId, sessionIds);
    // Subscribers see a QUEUED scan's waitingFor change when the capacity hold begins or ends (issue 10.6).
    capacity.onHoldChange((hold) => {
      if (!hold) scanQueue.wake(); // held jobs retry at once
      void scans.announceQueueWait().catch((err: unknown) => log.warn({ err }, "queued scans not republished after a capacity change"));
    });
    const scanWorker = await startScanWorker({ config, log, instanceId, keyring, repo: scanWorkerRepo, events: scanEvents, queue: scanQueue, pubsub, connections, capacityHold: () => capacity.claimHold() });
    if (scanWorker) onStop("scan worker", () => scanWorker.stop(config.SHUTDOWN_GRACE));
    const scanMaintenance = new ScanMaintenanceJob(
      { repo: scanWorkerRepo, queue: scanQueue, events: scanEvents, log },
      {
        stallMs: config.SCAN_STALL_TIMEOUT,
        maxAttempts: config.SCAN_MAX_ATTEMPTS,
        intervalMs: Math.max(500, Math.min(5_000, Math.floor(config.SCAN_STALL_TIMEOUT / 3))),
        reconcileAfterMs: 10_000,
      },
    );
    await scanMaintenance.start();
    onStop("scan maintenance", () => scanMaintenance.stop());

    const scanFeed = new ScanFeed({ repo: new ScanFeedRepo(prisma), pubsub, capacityHold: () => capacity.claimHold() });
    const scanPages = new ScanPages(new ScanPagesRepo(prisma));
    const services: AppServices = { users: new UserRepo(prisma), activity, sessions, connections, payments, capacity, scans, scanFeed, scanPages, pubsub };

    const schema = await buildAppSchema(pubsub);
    const limits = createQueryLimits(config);
    const readiness: ReadinessCheck[] = [
      { name: "database", check: async () => void (await pool.query("select 1")) },
      ...(redis ? [{ name: "redis", check: async () => void (await redis!.ping()) }] : []),
    ];
    let http: HttpApp | null = null;
    let port = 0;
    let url = "";
    if (role === "api") {
      const contextDeps = { verifier, services, log };
      // Findings reports (GET /scans/:id/report.csv|html, Bearer token) before the web clients.
      const mount = (express: Express) => (mountReports(express, contextDeps), mountWebClients(express));
      const app = await createHttpApp({ config, schema, limits, deps: contextDeps, metrics, readiness, mount });
      http = app;
      onStop("http", () => app.close());
      port = await app.listen(config.PORT, config.HOST);
      httpForCapacity = app;
    }
    // /metrics alone on a port of its own for operators (issue 12), API and worker alike.
    if (config.METRICS_PORT !== undefined) {
      const metricsServer = await startMetricsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST ?? config.HOST, metrics, config });
      onStop("metrics server", () => metricsServer.close());
      log.info({ metricsPort: metricsServer.port }, "metrics served on their own port");
    }
    await capacity.start();
    onStop("capacity monitor", () => capacity.close());
    if (http) {
      const shownHost = config.HOST === "0.0.0.0" || config.HOST === "::" ? "localhost" : config.HOST;
      url = `http://${shownHost}:${port}/graphql`;
      log.info({ port, instanceId, embedded: Boolean(embedded), redis: Boolean(redis) }, `server ready at ${url}`);
    } else {
      let probePort: number | null = null;
      if (config.WORKER_HTTP_PORT !== undefined) {
        const probes = await startProbeServer({ port: config.WORKER_HTTP_PORT, host: config.HOST, metrics, readiness, metricsGate: metricsGate(config) });
        onStop("probe server", () => probes.close());
        probePort = probes.port;
      }
      log.info({ instanceId, scanWorkers: config.SCAN_WORKERS, redis: Boolean(redis), probePort }, "scan worker ready");
    }

    let stopping: Promise<void> | null = null;
    return {
      config,
      instanceId,
      port,
      url,
      prisma,
      pool,
      services,
      metrics,
      pubsub,
      http,
      jwtSecret,
      keyring,
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function registerPoolGauges(metrics: Metrics, pool: pg.Pool): void {
  const stat = (name: string, help: string, pick: (s: ReturnType<typeof poolStats>) => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(pick(poolStats(pool)));
      },
    });
  stat("dg_db_pool_size", "Configured PostgreSQL pool size", (s) => s.size);
  stat("dg_db_pool_in_use", "PostgreSQL connections in use", (s) => s.inUse);
  stat("dg_db_pool_idle", "Idle PostgreSQL connections", (s) => s.idle);
  stat("dg_db_pool_waiting", "Callers waiting for a PostgreSQL connection", (s) => s.waiting);
}
