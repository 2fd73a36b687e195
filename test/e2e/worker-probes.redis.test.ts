import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { REDIS_TEST_URL, requireRedisOrSkip, uniquePrefix } from "../support/redis.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const run = await requireRedisOrSkip("worker-probes.redis.test.ts");

/** `npm run worker` serves probes and metrics on WORKER_HTTP_PORT, and drains on SIGTERM. */
describe.runIf(run)("scan worker process probes", () => {
  let db: TestDatabase;
  let worker: ServerProcess;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    worker = await startServerProcess(
      { DATABASE_URL: db.url, REDIS_URL: REDIS_TEST_URL, REDIS_PREFIX: uniquePrefix("probes"), ENCRYPTION_KEY: randomBytes(32).toString("base64"), WORKER_HTTP_PORT: "0" },
      { entry: "src/worker.ts", readyPattern: "scan worker ready" },
    );
    const line = worker.output.find((l) => l.includes("scan worker ready"))!;
    base = `http://127.0.0.1:${(JSON.parse(line) as { probePort: number }).probePort}`;
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  it("answers /healthz, /readyz (database and Redis) and /metrics, and serves no GraphQL", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { database: "up", redis: "up" } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/dg_db_pool_size\{[^}]*\} 50/);
    expect((await fetch(`${base}/graphql`, { method: "POST" })).status).toBe(404);
  });

  it("stops on SIGTERM and exits 0", async () => {
    expect(await worker.stop("SIGTERM")).toBe(0);
  });
});
