import net from "node:net";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { TestWsClient } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

/**
 * Issue 11, reconnect storms and idle sockets, from outside against the real server process:
 * handshakes are admitted at the pace the event loop allows (beyond MAX_PENDING_WS_UPGRADES
 * waiting: HTTP 503 with Retry-After), and one keep-alive sweep drops peers that stopped
 * answering pings while live ones stay.
 */
let db: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServerProcess({
    DATABASE_URL: db.url,
    WS_KEEPALIVE: "1200ms",
    MAX_PENDING_WS_UPGRADES: "4",
    CAPACITY_SAMPLE_INTERVAL: "60s",
  });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

/** One raw WebSocket upgrade request; resolves with the status line's code (101, 503...) and its headers. */
function rawUpgrade(port: number, path = "/graphql"): Promise<{ status: number; head: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${Buffer.alloc(16, 1).toString("base64")}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
      );
    });
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) resolve({ status: Number(text.split(" ")[1]), head: text.slice(0, end), socket });
    });
    socket.on("error", reject);
    setTimeout(() => reject(new Error("no answer to the upgrade within 20 s")), 20_000).unref();
  });
}

describe("handshakes in a storm", () => {
  it("answers every handshake of a burst, 101 in turn or 503 with Retry-After past the waiting limit, and other requests are served", async () => {
    const port = Number(new URL(server.base).port);
    const answers = await Promise.all(Array.from({ length: 300 }, () => rawUpgrade(port)));
    const byStatus: Record<number, number> = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    expect(Object.keys(byStatus).map(Number).filter((s) => s !== 101 && s !== 503)).toEqual([]);
    expect(byStatus[101]).toBeGreaterThan(0);
    expect(byStatus[503] ?? 0).toBeGreaterThan(0); // 300 at once with room for 4 waiting
    for (const a of answers.filter((x) => x.status === 503)) expect(a.head).toMatch(/\r\nRetry-After: \d+/i);
    for (const a of answers) a.socket.destroy();
    const health = await fetch(`${server.base}/healthz`);
    expect(health.status).toBe(200);
    // After the burst a client connects and subscribes as usual.
    const token = await server.token("after-the-storm");
    const ws = await TestWsClient.connect(server.wsUrl, token);
    ws.subscribe("1", `subscription { myScans { scanId } }`);
    ws.send({ type: "ping" });
    expect(await ws.waitForMessage()).toMatchObject({ type: "pong" });
    ws.close();
    await ws.waitForClose();
  });

  it("refuses an upgrade on another path with 400, as before", async () => {
    const port = Number(new URL(server.base).port);
    const answer = await rawUpgrade(port, "/not-graphql");
    expect(answer.status).toBe(400);
    answer.socket.destroy();
  });
});

describe("keep-alive", () => {
  it("drops a peer that stops answering pings within two periods; a live one stays", async () => {
    const token = await server.token("keepalive");
    const open = (autoPong: boolean) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(server.wsUrl, "graphql-transport-ws", { autoPong });
        ws.once("open", () => {
          ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
          ws.once("message", () => resolve(ws)); // connection_ack
        });
        ws.once("error", reject);
      });
    const live = await open(true);
    const dead = await open(false);
    let pings = 0;
    dead.on("ping", () => pings++);
    const t0 = Date.now();
    const closedAt = await new Promise<number>((resolve) => dead.once("close", () => resolve(Date.now() - t0)));
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(closedAt).toBeLessThan(2 * 1200 + 1000);
    // The live socket answered every ping and is still served after several periods.
    await new Promise((r) => setTimeout(r, 1500));
    expect(live.readyState).toBe(WebSocket.OPEN);
    const pong = new Promise((resolve) => live.once("message", (d) => resolve(JSON.parse(String(d)))));
    live.send(JSON.stringify({ type: "ping" }));
    expect(await pong).toMatchObject({ type: "pong" });
    live.close();
  });
});
