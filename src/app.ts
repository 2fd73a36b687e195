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
import { ActivityTracker } from "./modules/viewer/activity.service.js";
import { UserRepo } from "./modules/viewer/user.repo.js";
import { createTokenVerifier, type JwtSettings } from "./platform/auth/jwt.js";
import { loadOrCreateSecret } from "./platform/auth/secret-store.js";
import { loadKeyring, type Keyring } from "./platform/crypto/secret-box.js";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "./platform/db/embedded.js";
import { applyMigrations } from "./platform/db/migrate.js";
import { createPool, poolStats, waitForDatabase } from "./platform/db/pool.js";
import { createPrisma, type PrismaClient } from "./platform/db/prisma.js";
import type { Logger } from "./platform/observability/logger.js";
import { createMetrics, type Metrics } from "./platform/observability/metrics.js";
import { MemoryPubSub } from "./platform/pubsub/memory.pubsub.js";
import type { PubSub } from "./platform/pubsub/pubsub.js";
import { RedisPubSub } from "./platform/pubsub/redis.pubsub.js";
import { createRedis, waitForRedis } from "./platform/redis/redis.js";
import { Gauge } from "prom-client";

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
  readonly http: HttpApp;
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
export async function startApp(config: Config, log: Logger): Promise<RunningApp> {
  const instanceId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const cleanups: Array<{ name: string; run: () => Promise<unknown> }> = [];
  const onStop = (name: string, run: () => Promise<unknown>) => cleanups.unshift({ name, run });
  const stopAll = async () => {
    for (const { name, run } of cleanups) {
      try {
        await run();
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
    let pubsub: PubSub;
    let redis: Redis | null = null;
    if (config.REDIS_URL) {
      redis = createRedis(config.REDIS_URL, "dg-main", log);
      onStop("redis", () => redis!.quit());
      await waitForRedis(redis, log, config.STARTUP_TIMEOUT);
      pubsub = new RedisPubSub(
        createRedis(config.REDIS_URL, "dg-pub", log),
        createRedis(config.REDIS_URL, "dg-sub", log),
        config.REDIS_PREFIX,
      );
    } else {
      pubsub = new MemoryPubSub();
    }
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
    const verifier = createTokenVerifier(jwtSettings);
    const keyring = await loadKeyring({ encryptionKey: config.ENCRYPTION_KEY, dataDir: config.DATA_DIR });

    const metrics = createMetrics({ instanceId });
    registerPoolGauges(metrics, pool);

    const activity = new ActivityTracker(prisma, log, { sessionTtlMs: config.SESSION_TTL });
    activity.start();
    onStop("activity tracker", () => activity.stop());
    const services: AppServices = { users: new UserRepo(prisma), activity };

    const schema = await buildAppSchema(pubsub);
    const limits = createQueryLimits(config);
    const readiness: ReadinessCheck[] = [
      { name: "database", check: async () => void (await pool.query("select 1")) },
      ...(redis ? [{ name: "redis", check: async () => void (await redis!.ping()) }] : []),
    ];
    const http = await createHttpApp({ config, schema, limits, deps: { verifier, services, log }, metrics, readiness });
    onStop("http", () => http.close());
    const port = await http.listen(config.PORT, config.HOST);
    const shownHost = config.HOST === "0.0.0.0" || config.HOST === "::" ? "localhost" : config.HOST;
    const url = `http://${shownHost}:${port}/graphql`;
    log.info({ port, instanceId, embedded: Boolean(embedded), redis: Boolean(redis) }, `server ready at ${url}`);

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
