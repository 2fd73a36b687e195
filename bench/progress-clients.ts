/**
 * bench/progress clients: N WebSockets in one process (not the server's event loop), each
 * subscribed to one scan, either over graphql-ws (`graphql` mode: connection_init with a bearer
 * token, then `subscribe` scanProgress) or to the raw `ws` baseline (`raw` mode). Records, per
 * delivery, publish → receipt latency from the hrtime stamp in `stage` (CLOCK_MONOTONIC, the
 * same clock in every process of the machine) and sequence gaps. Driven over IPC.
 */
import WebSocket from "ws";
import { serveRpc, SUBSCRIPTION } from "./progress-common.js";

interface Client {
  socket: WebSocket;
  scanId: string;
  lastSeq: number;
  received: number;
  paused: boolean;
  closeCode: number | null;
}

const STAGE = /"stage":"(\d+)"/;
const SEQ = /"seq":(\d+)/;
const MAX_SAMPLES = 4_000_000;

let clients: Client[] = [];
let latencies = new Float64Array(MAX_SAMPLES);
let samples = 0;
let received = 0;
let gaps = 0;
let reordered = 0;
let errors = 0;

function onMessage(c: Client, text: string): void {
  if (!text.includes('"type":"next"')) {
    if (text.includes('"type":"error"')) errors++;
    return;
  }
  const seq = Number(SEQ.exec(text)?.[1] ?? -1);
  if (seq === 0) return; // the current state, sent at subscribe time
  const now = process.hrtime.bigint();
  const stamp = STAGE.exec(text)?.[1];
  if (stamp && samples < MAX_SAMPLES) latencies[samples++] = Number(now - BigInt(stamp)) / 1e6;
  received++;
  c.received++;
  if (seq <= c.lastSeq) reordered++;
  else if (c.lastSeq > 0 && seq > c.lastSeq + 1) gaps += seq - c.lastSeq - 1;
  c.lastSeq = Math.max(c.lastSeq, seq);
}

function open(url: string, mode: "graphql" | "raw", cred: { token?: string; scanId: string }): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, mode === "graphql" ? "graphql-transport-ws" : undefined, { perMessageDeflate: false });
    const c: Client = { socket, scanId: cred.scanId, lastSeq: 0, received: 0, paused: false, closeCode: null };
    let ready = false;
    const timer = setTimeout(() => fail(new Error("subscribe timed out")), 120_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      if (!ready) {
        socket.terminate();
        reject(err);
      }
    };
    socket.on("error", (err) => fail(err));
    socket.on("close", (code) => {
      c.closeCode = code;
      fail(new Error(`closed ${code}`));
    });
    socket.on("open", () => {
      if (mode === "graphql") socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${cred.token}` } }));
      else socket.send(JSON.stringify({ type: "subscribe", scanId: cred.scanId }));
    });
    socket.on("message", (data) => {
      const text = String(data);
      if (!ready) {
        if (text.includes('"connection_ack"')) {
          socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION, variables: { scanId: cred.scanId } } }));
          return;
        }
        if (text.includes('"type":"next"')) {
          ready = true;
          clearTimeout(timer);
          resolve(c);
          return;
        }
        return fail(new Error(`unexpected ${text.slice(0, 200)}`));
      }
      onMessage(c, text);
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

serveRpc({
  async connect({ url, mode, creds, concurrency }: { url: string; mode: "graphql" | "raw"; creds: Array<{ token?: string; scanId: string }>; concurrency: number }) {
    const t0 = performance.now();
    let next = 0;
    let failed = 0;
    const firstErrors: string[] = [];
    const worker = async () => {
      while (next < creds.length) {
        const cred = creds[next++]!;
        try {
          clients.push(await open(url, mode, cred));
        } catch (err) {
          failed++;
          if (firstErrors.length < 3) firstErrors.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { connected: clients.length, failed, firstErrors, ms: performance.now() - t0 };
  },
  /**
   * Reconnect storm: drops every socket at once, then reconnects and resubscribes all of them
   * with start times spread evenly over `spreadMs` (no concurrency limit).
   */
  async storm({ url, creds, spreadMs }: { url: string; creds: Array<{ token?: string; scanId: string }>; spreadMs: number }) {
    for (const c of clients) c.socket.terminate();
    clients = [];
    const t0 = performance.now();
    let failed = 0;
    let lastServedMs = 0;
    const firstErrors: string[] = [];
    await Promise.all(
      creds.map(async (cred, i) => {
        await new Promise((r) => setTimeout(r, (i / creds.length) * spreadMs));
        try {
          clients.push(await open(url, "graphql", cred));
          lastServedMs = Math.max(lastServedMs, performance.now() - t0);
        } catch (err) {
          failed++;
          if (firstErrors.length < 3) firstErrors.push((err as Error).message);
        }
      }),
    );
    return { connected: clients.length, failed, firstErrors, ms: lastServedMs };
  },
  /**
   * One user floods: `sockets` connections with one token, each asking `subsPerSocket`
   * subscriptions; after `holdMs` reports what they got and closes them.
   */
  async flood({ url, token, sockets, subsPerSocket, holdMs }: { url: string; token: string; sockets: number; subsPerSocket: number; holdMs: number }) {
    const closes: Record<string, number> = {};
    let acked = 0;
    let subsAccepted = 0;
    let subsRefused = 0;
    const opened: WebSocket[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: sockets }, () =>
        new Promise<void>((resolve) => {
          const socket = new WebSocket(url, "graphql-transport-ws", { perMessageDeflate: false });
          opened.push(socket);
          const answered = new Set<string>();
          socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } })));
          socket.on("message", (data) => {
            const m = JSON.parse(String(data)) as { type: string; id?: string };
            if (m.type === "connection_ack") {
              acked++;
              for (let i = 0; i < subsPerSocket; i++) socket.send(JSON.stringify({ id: `s${i}`, type: "subscribe", payload: { query: "subscription { myScans { scanId status } }" } }));
              // myScans sends nothing until a scan changes: a ping round-trip marks "all asked".
              socket.send(JSON.stringify({ type: "ping" }));
              return;
            }
            if (m.type === "error" && m.id && !answered.has(m.id)) {
              answered.add(m.id);
              subsRefused++;
            }
            if (m.type === "pong") resolve();
          });
          socket.on("close", (code) => {
            closes[code] = (closes[code] ?? 0) + 1;
            resolve();
          });
          socket.on("error", () => resolve());
        }),
      ),
    );
    const settledMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, holdMs));
    subsAccepted = acked * subsPerSocket - subsRefused;
    for (const s of opened) s.terminate();
    return { sockets, acked, closes, subsAccepted, subsRefused, settledMs };
  },
  reset() {
    samples = 0;
    received = 0;
    gaps = 0;
    reordered = 0;
    errors = 0;
    for (const c of clients) c.received = 0;
    return true;
  },
  /** Stops reading on the last `count` sockets: their server-side buffers can no longer drain. */
  pause({ count }: { count: number }) {
    const chosen = clients.slice(clients.length - count);
    for (const c of chosen) {
      c.paused = true;
      (c.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    }
    return chosen.length;
  },
  report() {
    const sorted = latencies.slice(0, samples).sort();
    const healthy = clients.filter((c) => !c.paused);
    const closed: Record<string, number> = {};
    for (const c of clients) if (c.closeCode !== null) closed[`${c.paused ? "paused" : "healthy"}:${c.closeCode}`] = (closed[`${c.paused ? "paused" : "healthy"}:${c.closeCode}`] ?? 0) + 1;
    const perClient = healthy.map((c) => c.received).sort((a, b) => a - b);
    return {
      received,
      receivedHealthy: healthy.reduce((s, c) => s + c.received, 0),
      healthyClients: healthy.length,
      minPerHealthyClient: perClient[0] ?? 0,
      gaps,
      reordered,
      errors,
      samples,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1] : NaN,
      closed,
      open: clients.filter((c) => c.socket.readyState === WebSocket.OPEN).length,
    };
  },
  close() {
    for (const c of clients) c.socket.terminate();
    clients = [];
    latencies = new Float64Array(0);
    setTimeout(() => process.exit(0), 50);
    return true;
  },
});
console.log("clients ready");
