import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startServerProcess } from "../support/server-process.js";
import { describeScanBehaviour } from "./scans.behaviour.js";

/** The embedded-default topology: one process, in-process queue and pub/sub. */
describeScanBehaviour("scans on one instance (in-process queue)", async () => {
  const db: TestDatabase = await createTestDatabase();
  const server = await startServerProcess({
    DATABASE_URL: db.url,
    DATABASE_SCAN_STATEMENT_TIMEOUT: "120s",
    // A heartbeat far later than a cancel must take: only the cancel broadcast can stop a worker in time.
    SCAN_HEARTBEAT_INTERVAL: "20s",
    SCAN_STALL_TIMEOUT: "90s",
  });
  return {
    a: server,
    b: server,
    async stop() {
      await server.stop();
      await db.drop();
    },
  };
});
