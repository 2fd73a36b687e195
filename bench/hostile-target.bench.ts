/**
 * Hostile scanned databases through the real server (issue 10, point 5): fake PostgreSQL and
 * MySQL servers (test/support/hostile-db.ts) that answer a connection test with a 400 MB server
 * version or a 400 MB row, and a database scan with a 400 MB catalogue row or an endless
 * catalogue. For each: the answer, the time, /healthz max latency while it runs, the server's
 * RSS growth, and how many bytes the fake server got to send. Prints figures; asserts nothing.
 *
 *   node --import @swc-node/register/esm-register bench/hostile-target.bench.ts
 *   (DATABASE_URL=... to use a server instead of an embedded PostgreSQL)
 */
import { createLogger } from "../src/platform/observability/logger.js";
import {
  closeHostileServers,
  fakePg,
  hugeMysqlVersionServer,
  hugeRowServer,
  hugeVersionServer,
  isListing,
  streamEndlessCatalogue,
  streamHugeRow,
  type Hostile,
} from "../test/support/hostile-db.js";
import { startServerProcess } from "../test/support/server-process.js";
import { benchDatabase, graphqlClient, watchServer } from "./server-bench.js";

const log = createLogger({ level: "warn", name: "bench" });

const db = await benchDatabase("hostile", log);
// Development mode: loopback (where the fake servers listen) may be scanned.
const server = await startServerProcess({ DATABASE_URL: db.url, NODE_ENV: "development" });
const gql = graphqlClient(server, await server.token("bench"));

const { openSession } = await gql<{ openSession: { id: string } }>(`mutation { openSession(input: { name: "hostile" }) { id } }`);
const sessionId = openSession.id;
async function save(engine: "POSTGRESQL" | "MYSQL", port: number): Promise<string> {
  const input = { sessionId, name: `hostile ${port}`, engine, host: "127.0.0.1", port, database: "db", user: "u", password: "p" };
  const r = await gql<{ saveDatabaseConnection: { id: string } }>(`mutation ($input: DatabaseConnectionInput!) { saveDatabaseConnection(input: $input) { id } }`, { input });
  return r.saveDatabaseConnection.id;
}

async function connectionTest(id: string): Promise<string> {
  const r = await gql<{ testDatabaseConnection: { code: string | null; serverVersion: string | null } }>(
    `mutation ($id: ID!) { testDatabaseConnection(id: $id) { ok code serverVersion } }`,
    { id },
  );
  return r.testDatabaseConnection.code ?? `ok ${r.testDatabaseConnection.serverVersion}`;
}

async function databaseScan(id: string): Promise<string> {
  const r = await gql<{ startDatabaseScan: { id: string } }>(`mutation ($input: DatabaseScanInput!) { startDatabaseScan(input: $input) { id } }`, {
    input: { sessionId, connectionId: id, sampleSize: 10 },
  });
  for (;;) {
    const s = await gql<{ scan: { status: string; error: { code: string; message: string } | null } }>(`query ($id: ID!) { scan(id: $id) { status error { code message } } }`, {
      id: r.startDatabaseScan.id,
    });
    if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(s.scan.status)) return s.scan.error ? `${s.scan.status} ${s.scan.error.code}: ${s.scan.error.message}` : s.scan.status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const version = (sql: string) => (sql.includes("server_version") ? [["16.0"]] : []);
const cases: Array<[string, "POSTGRESQL" | "MYSQL", () => Promise<Hostile>, (id: string) => Promise<string>]> = [
  ["PostgreSQL, 400 MB server_version (connection test)", "POSTGRESQL", hugeVersionServer, connectionTest],
  ["PostgreSQL, 400 MB row (connection test)", "POSTGRESQL", hugeRowServer, connectionTest],
  ["MySQL, 400 MB handshake version (connection test)", "MYSQL", hugeMysqlVersionServer, connectionTest],
  [
    "PostgreSQL, 400 MB catalogue row (database scan)",
    "POSTGRESQL",
    () =>
      fakePg((sql, socket, counter) => {
        if (!isListing(sql)) return version(sql);
        streamHugeRow(socket, counter);
        return "custom";
      }),
    databaseScan,
  ],
  [
    "PostgreSQL, endless catalogue (database scan)",
    "POSTGRESQL",
    () =>
      fakePg((sql, socket, counter) => {
        if (!isListing(sql)) return version(sql);
        streamEndlessCatalogue(socket, counter);
        return "custom";
      }),
    databaseScan,
  ],
];

console.log("case | answer | ms | /healthz max ms | server RSS growth MiB | MiB the fake server sent");
{
  // Baseline in the same run: a connection test to a closed port (the first one also pays for warming up).
  const closed = await save("POSTGRESQL", 1);
  for (const label of ["baseline, closed port, first", "baseline, closed port, second"]) {
    const stop = watchServer(server);
    const t0 = performance.now();
    const answer = await connectionTest(closed);
    const ms = Math.round(performance.now() - t0);
    const { healthzMaxMs, rssGrowthMiB } = await stop();
    console.log(`${label} | ${answer} | ${ms} | ${healthzMaxMs} | ${rssGrowthMiB.toFixed(1)} | -`);
  }
}
for (const [name, engine, start, run] of cases) {
  const fake = await start();
  const id = await save(engine, fake.port);
  const stop = watchServer(server);
  const t0 = performance.now();
  const answer = await run(id);
  const ms = Math.round(performance.now() - t0);
  const { healthzMaxMs, rssGrowthMiB } = await stop();
  console.log(`${name} | ${answer.slice(0, 160)} | ${ms} | ${healthzMaxMs} | ${rssGrowthMiB.toFixed(1)} | ${(fake.sent() / 2 ** 20).toFixed(1)}`);
  await closeHostileServers();
}

await server.stop();
await db.drop();
