import "reflect-metadata";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { graphql } from "graphql";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config/config.js";
import type { GraphQLContext } from "../src/graphql/context.js";
import { createLoaders } from "../src/graphql/loaders.js";
import { buildAppSchema } from "../src/graphql/schema.js";
import { createLogger } from "../src/platform/observability/logger.js";

/**
 * The cost of ownership checks on `scans(first: 20)` (issue 3): every Scan.session is resolved
 * through the viewer-scoped sessions loader. Requests per second with DataLoader batching (one
 * owner-scoped query for all 20) against without (one query per scan), executed in-process with
 * graphql() so the figure is the resolver cost, not HTTP's. A bare `scans` without `session`
 * runs beside them as the baseline.
 *
 *   node --import @swc-node/register/esm-register bench/ownership.bench.ts
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = 10;

const dataDir = mkdtempSync(path.join(tmpdir(), "dg-bench-own-"));
const config = loadConfig({ ...process.env, DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn", SCAN_WORKERS: "0", CAPACITY_FORCE_LEVEL: "OK" });
const app = await startApp(config, createLogger({ level: "warn" }));
const schema = await buildAppSchema(app.pubsub);
const owner = "bench-owner";
await app.prisma.user.upsert({ where: { id: owner }, create: { id: owner }, update: {} });
const sessions = await Promise.all(
  Array.from({ length: 20 }, (_, i) =>
    app.prisma.session.create({ data: { ownerId: owner, name: `s${i}`, expiresAt: new Date(Date.now() + 86_400_000) } }),
  ),
);
for (const [i, s] of sessions.entries()) {
  await app.prisma.scan.create({ data: { ownerId: owner, sessionId: s.id, kind: "DOCUMENT", status: "SUCCEEDED", createdAt: new Date(Date.now() - i * 1000) } });
}

const user = { id: owner, role: "USER" as const };
const context = (batch: boolean): GraphQLContext => ({
  user,
  requestId: "bench",
  transport: "http",
  loaders: createLoaders(app.services, user, { batch }),
  services: app.services,
  log: createLogger({ level: "silent" }),
});

async function measure(name: string, source: string, batch: boolean): Promise<number> {
  const check = await graphql({ schema, source, contextValue: context(batch) });
  if (check.errors) throw new Error(`${name}: ${JSON.stringify(check.errors)}`);
  let done = 0;
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        await graphql({ schema, source, contextValue: context(batch) });
        done++;
      }
    }),
  );
  const rps = done / SECONDS;
  console.log(`${name.padEnd(44)} ${rps.toFixed(0).padStart(7)} req/s`);
  return rps;
}

const bare = `{ scans(first: 20) { edges { node { id status } } } }`;
const withSession = `{ scans(first: 20) { edges { node { id status session { id name } } } } }`;
console.log(`scans(first: 20), ${CONCURRENCY} concurrent, ${SECONDS} s each, pool ${config.DATABASE_POOL_SIZE}`);
const base = await measure("baseline: scans without session", bare, true);
const batched = await measure("with session, DataLoader batching", withSession, true);
const unbatched = await measure("with session, one query per scan", withSession, false);
console.log(`batched / baseline   ${(batched / base).toFixed(2)}`);
console.log(`unbatched / baseline ${(unbatched / base).toFixed(2)}`);
console.log(`batched / unbatched  ${(batched / unbatched).toFixed(2)}`);
await app.stop();
