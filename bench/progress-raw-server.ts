/**
 * bench/progress baseline: a bare `ws` server broadcasting the same progress payloads (the same
 * graphql-ws `next` JSON a subscriber receives, one JSON.stringify per socket and event) to the
 * same number of sockets. A client "subscribes" with `{"type":"subscribe","scanId":...}` and
 * gets the current state at once, as with the real server. No auth, no GraphQL, no pub/sub.
 */
import http from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import { idleCpu, maxLoop, memory, rateLoop, serveRpc, turn } from "./progress-common.js";

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, path: "/graphql", maxPayload: 64 * 1024 });
const subscribers: Array<{ socket: WebSocket; scanId: string }> = [];

function payload(scanId: string, s: number): string {
  return JSON.stringify({
    id: "1",
    type: "next",
    payload: {
      data: {
        scanProgress: {
          scanId,
          status: "RUNNING",
          progress: (s % 100) / 100,
          stage: s === 0 ? null : String(process.hrtime.bigint()),
          itemsProcessed: s,
          itemsTotal: 1_000_000,
          queuePosition: null,
          findingsCount: 0,
          seq: s,
        },
      },
    },
  });
}

wss.on("connection", (socket) => {
  socket.on("message", (data) => {
    const m = JSON.parse(String(data)) as { type: string; scanId?: string };
    if (m.type === "subscribe" && m.scanId) {
      const entry = { socket, scanId: m.scanId };
      subscribers.push(entry);
      socket.once("close", () => subscribers.splice(subscribers.indexOf(entry), 1));
      socket.send(payload(m.scanId, 0));
    }
  });
});

let seq = 1;
function burst(s: number): number {
  let n = 0;
  for (const { socket, scanId } of subscribers) {
    if (socket.readyState !== socket.OPEN) continue;
    socket.send(payload(scanId, s));
    n++;
  }
  return n;
}

async function drained(): Promise<void> {
  await turn();
  for (let i = 0; i < 10_000; i++) {
    if (subscribers.every(({ socket }) => socket.bufferedAmount === 0)) return;
    await turn();
  }
}

serveRpc({
  scans: () => 0,
  memory: () => memory(),
  counts: () => ({ clients: wss.clients.size, subscriptions: subscribers.length }),
  idle: (ms: number) => idleCpu(ms),
  async rate({ hz, seconds }: { hz: number; seconds: number }) {
    const r = await rateLoop(burst, seq, hz, seconds);
    seq = r.nextSeq;
    return r;
  },
  async max({ seconds }: { seconds: number }) {
    const r = await maxLoop(burst, seq, seconds, drained);
    seq = r.nextSeq;
    return r;
  },
  stop() {
    setTimeout(() => process.exit(0), 50);
  },
});

server.listen(0, "127.0.0.1", () => {
  const port = (server.address() as { port: number }).port;
  console.log(JSON.stringify({ msg: "bench server ready", port }));
});
