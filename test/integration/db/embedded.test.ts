import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "../../../src/platform/db/embedded.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe("startEmbeddedPostgres", () => {
  let dataDir: string;
  const running: EmbeddedPostgresHandle[] = [];

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "dg-embedded-test-"));
  });
  afterAll(async () => {
    await Promise.all(running.map((h) => h.stop()));
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<{ handle: EmbeddedPostgresHandle; ms: number }> {
    const t = Date.now();
    const handle = await startEmbeddedPostgres({ dataDir, log: silentLogger });
    running.push(handle);
    return { handle, ms: Date.now() - t };
  }

  it("initialises a new data directory, creates the application database, keeps data across restarts", async () => {
    const signalListeners = () => ["SIGINT", "SIGTERM"].map((s) => process.listenerCount(s));
    const listenersBefore = signalListeners();
    const first = await start();
    // The library's own SIGINT/SIGTERM hooks (stop + process.exit) are taken back: shutdown is ours.
    expect(signalListeners()).toEqual(listenersBefore);
    expect(first.handle.connectionString).toMatch(/^postgresql:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/dataguardian$/);
    await withClient(first.handle.connectionString, async (c) => {
      expect((await c.query("select current_database() as db")).rows[0].db).toBe("dataguardian");
      await c.query("create table kept (note text)");
      await c.query("insert into kept values ('from the first run')");
    });
    await first.handle.stop();
    await first.handle.stop(); // idempotent
    await expect(withClient(first.handle.connectionString, (c) => c.query("select 1"))).rejects.toThrow();

    const second = await start();
    const rows = await withClient(second.handle.connectionString, async (c) => (await c.query("select note from kept")).rows);
    expect(rows).toEqual([{ note: "from the first run" }]);
    await second.handle.stop();
    console.info(`embedded PostgreSQL start: fresh ${first.ms} ms, reused ${second.ms} ms`);
  });

  it("starts over a stale postmaster.pid left by a killed run", async () => {
    // A PID that cannot be alive (above the kernel's pid_max), as after a crash and reboot.
    await fs.writeFile(path.join(dataDir, "postgres", "postmaster.pid"), `99999999\n${path.join(dataDir, "postgres")}\n`);
    const { handle } = await start();
    const rows = await withClient(handle.connectionString, async (c) => (await c.query("select count(*)::int as n from kept")).rows);
    expect(rows).toEqual([{ n: 1 }]);
    await handle.stop();
  });

  it("picks another free port when its previous one is taken, and serves there", async () => {
    const a = await start();
    await a.handle.stop();
    // Someone else now listens on the port the first run used.
    const squatter = net.createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once("error", reject);
      squatter.listen(a.handle.port, "127.0.0.1", () => resolve());
    });
    try {
      const b = await start();
      expect(b.handle.port).not.toBe(a.handle.port);
      expect(b.handle.connectionString).toContain(`@127.0.0.1:${b.handle.port}/`);
      await withClient(b.handle.adminConnectionString, async (c) => {
        const row = (await c.query("select current_database() as db, inet_server_port() as port")).rows[0];
        expect(row).toEqual({ db: "postgres", port: b.handle.port });
      });
      await b.handle.stop();
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });
});
