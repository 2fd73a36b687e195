import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { TestWsClient } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

/**
 * Issue 5, Backpressure: a client that stops reading must not grow the server without bound.
 * The stalled client subscribes, pauses its socket and floods graphql-ws `ping`s with ~32 KB
 * payloads; the server echoes each as a `pong` it cannot deliver. With WS_SLOW_CLIENT_TIMEOUT=2s
 * the server closes it (1013, counted in dg_ws_slow_clients_closed_total) while a healthy client
 * on the same server keeps getting answers, and the server's RSS stays bounded.
 */
describe("backpressure: a client that stops reading", () => {
  let db: TestDatabase;
  let server: ServerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServerProcess({ DATABASE_URL: db.url, WS_SLOW_CLIENT_TIMEOUT: "2s", SCAN_WORKERS: "0" });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, "utf8"))![1]) * 1024;
  const slowClosed = async () => {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("dg_ws_slow_clients_closed_total"));
    return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
  };

  it("closes the stalled socket within seconds while a healthy client is served and memory stays bounded", async () => {
    const healthy = await TestWsClient.connect(server.wsUrl, await server.token("healthy-user"));
    const stalled = await TestWsClient.connect(server.wsUrl, await server.token("stalled-user"));
    stalled.subscribe("1", "subscription { myScans { scanId seq } }");
    healthy.subscribe("1", "subscription { myScans { scanId seq } }");
    await new Promise((r) => setTimeout(r, 200));
    const rssBefore = rss();
    const closedBefore = await slowClosed();

    // Stop reading: everything the server sends now piles up in the kernel, then in the server.
    (stalled.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = { blob: "x".repeat(32 * 1024) };
    const started = Date.now();
    let sent = 0;
    let maxRss = rssBefore;
    let closedAt: number | null = null;
    let healthyAnswers = 0;
    const healthyLatencies: number[] = [];
    while (Date.now() - started < 15_000) {
      // ~3 MB/s of pongs the stalled client never reads (bounded by the test, not by the server).
      for (let i = 0; i < 10 && stalled.socket.readyState === stalled.socket.OPEN; i++) {
        stalled.send({ type: "ping", payload });
        sent++;
      }
      const t0 = Date.now();
      healthy.send({ type: "ping", payload: { n: healthyAnswers } });
      const pong = await healthy.waitForMessage(2_000);
      expect(pong.type).toBe("pong");
      healthyLatencies.push(Date.now() - t0);
      healthyAnswers++;
      maxRss = Math.max(maxRss, rss());
      if (closedAt === null && (await slowClosed()) > closedBefore) closedAt = Date.now();
      if (closedAt !== null && Date.now() - closedAt > 1_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    expect(closedAt, `no slow-client close after ${sent} pings of 32 KB`).not.toBeNull();
    // Detection waits for the kernel buffers to fill, then WS_SLOW_CLIENT_TIMEOUT (2 s) plus one check interval.
    expect(closedAt! - started).toBeLessThan(10_000);
    // The healthy client was answered throughout, and still is.
    expect(healthyAnswers).toBeGreaterThan(5);
    expect(Math.max(...healthyLatencies)).toBeLessThan(1_000);
    const sub = await fetch(`${server.base}/healthz`);
    expect(sub.status).toBe(200);
    // Bounded by what the stalled client was sent before the close, not growing with time.
    expect(maxRss - rssBefore).toBeLessThan(256 * 1024 * 1024);
    const after = rss();
    console.log(
      `stalled client: ${sent} pings (${((sent * 32) / 1024).toFixed(1)} MB of pongs) before the close at ${closedAt! - started} ms; ` +
        `server RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> max ${(maxRss / 2 ** 20).toFixed(0)} MB, now ${(after / 2 ** 20).toFixed(0)} MB; ` +
        `healthy pings answered: ${healthyAnswers}, max ${Math.max(...healthyLatencies)} ms`,
    );
    healthy.close();
    stalled.socket.terminate();
  }, 60_000);
});
