/**
 * `npm run migrate`: apply pending migrations (prisma/migrations) with the WebAssembly schema
 * engine, recording them in `_prisma_migrations` like `prisma migrate deploy`.
 *
 * - `DATABASE_URL` set: migrates that database.
 * - unset: starts the embedded PostgreSQL under `DATA_DIR` (default `.data`), migrates its
 *   application database, stops it.
 *
 * `LOG_LEVEL=info` (or debug) shows the structured log lines as well.
 */
import path from "node:path";
import { startEmbeddedPostgres } from "../src/platform/db/embedded.js";
import { applyMigrations } from "../src/platform/db/migrate.js";
import { describeTarget } from "../src/platform/db/pool.js";
import { createLogger } from "../src/platform/observability/logger.js";

const log = createLogger({ name: "migrate", level: process.env.LOG_LEVEL ?? "warn" });

async function main(): Promise<void> {
  const started = Date.now();
  let url = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url) {
    const dataDir = path.resolve(process.env.DATA_DIR ?? ".data");
    console.log(`migrate: starting embedded PostgreSQL in ${dataDir}`);
    const embedded = await startEmbeddedPostgres({ dataDir, log });
    url = embedded.connectionString;
    stop = embedded.stop;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        console.error(`migrate: ${signal}, stopping embedded PostgreSQL`);
        void embedded.stop().finally(() => process.exit(1));
      });
    }
  }
  try {
    console.log(`migrate: applying migrations to ${describeTarget(url)}`);
    const { applied } = await applyMigrations(url, log);
    console.log(
      applied.length > 0
        ? `migrate: applied ${applied.length} migration${applied.length === 1 ? "" : "s"}: ${applied.join(", ")} (${Date.now() - started} ms)`
        : `migrate: database is up to date (${Date.now() - started} ms)`,
    );
  } finally {
    if (stop) {
      await stop();
      console.log("migrate: embedded PostgreSQL stopped");
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`migrate: FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
