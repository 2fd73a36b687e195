import { randomBytes } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { REDIS_TEST_URL, requireRedisOrSkip, uniquePrefix } from "../support/redis.js";
import { startServerProcess } from "../support/server-process.js";
import { describeScanBehaviour } from "./scans.behaviour.js";

const run = await requireRedisOrSkip("scans.redis.test.ts"); // one line saying why when skipped; REQUIRE_REDIS=1 fails instead

/**
 * Scaled out: two API instances that run no scans themselves and one `npm run worker`
 * process, sharing PostgreSQL and Redis (BullMQ queue, Redis pub/sub).
 */
describeScanBehaviour(
  "scans across two API instances and a worker (Redis, BullMQ)",
  async () => {
    const db: TestDatabase = await createTestDatabase();
    // Instances of one deployment share their secrets: tokens from one are valid on all, and a
    // worker decrypts the connection passwords an API instance sealed.
    const env = {
      JWT_SECRET: randomBytes(32).toString("base64url"),
      ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      DATABASE_URL: db.url,
      REDIS_URL: REDIS_TEST_URL,
      REDIS_PREFIX: uniquePrefix("scans"),
      DATABASE_SCAN_STATEMENT_TIMEOUT: "120s",
      // A heartbeat far later than a cancel must take: only the cancel broadcast can stop the worker in time.
      SCAN_HEARTBEAT_INTERVAL: "20s",
      SCAN_STALL_TIMEOUT: "90s",
    };
    const [a, b, worker] = await Promise.all([
      startServerProcess({ ...env, SCAN_WORKERS: "0" }),
      startServerProcess({ ...env, SCAN_WORKERS: "0" }),
      startServerProcess({ ...env, SCAN_WORKERS: "8" }, { entry: "src/worker.ts", readyPattern: "scan worker ready" }),
    ]);
    return {
      a,
      b,
      async stop() {
        await Promise.all([a.stop(), b.stop(), worker.stop()]);
        await db.drop();
      },
    };
  },
  { skip: !run },
);
