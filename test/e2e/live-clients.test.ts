import net from "node:net";
import { createClient, type Client, type FormattedExecutionResult as ExecutionResult } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode } from "../../src/graphql/close-codes.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request, TestWsClient } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import { waitFor } from "../support/wait.js";

/**
 * Issue 11 from outside: real graphql-transport-ws sockets against the real server process.
 * Caps, token expiry, cost with variables, overload, replay of an outcome the client missed,
 * handshakes paced in a storm (beyond MAX_PENDING_WS_UPGRADES waiting: HTTP 503 with
 * Retry-After) and the keep-alive sweep that drops peers which stopped answering pings.
 */
let db: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServerProcess({
    DATABASE_URL: db.url,
    MAX_WS_CONNECTIONS_PER_USER: "2",
    MAX_WS_CONNECTIONS: "6",
    WS_KEEPALIVE: "1200ms",
    MAX_PENDING_WS_UPGRADES: "4",
    CAPACITY_SAMPLE_INTERVAL: "60s",
  });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const OPEN_SESSION = `mutation { openSession(input: { name: "live" }) { id } }`;
const START_SCAN = `mutation S($sessionId: ID!) { startDocumentScan(input: { sessionId: $sessionId, documents: [{ name: "a.txt", text: "mail jan@example.com" }] }) { id status } }`;
const MY_SCANS = `subscription M($since: DateTime) { myScans(since: $since) { scanId status seq at error { code } } }`;

async function userRows(id: string): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const r = await client.query(`SELECT count(*)::int AS n FROM "User" WHERE id = $1`, [id]);
    return r.rows[0].n as number;
  } finally {
    await client.end();
  }
}

describe("fair sharing of sockets", () => {
  it("closes a user's socket past MAX_WS_CONNECTIONS_PER_USER with 4430 and a reason; others are unaffected", async () => {
    const flood = await server.token("flooder");
    const a = await TestWsClient.connect(server.wsUrl, flood);
    const b = await TestWsClient.connect(server.wsUrl, flood);
    const c = await TestWsClient.open(server.wsUrl);
    c.send({ type: "connection_init", payload: { authorization: `Bearer ${flood}` } });
    const closed = await c.waitForClose();
    expect(closed.code).toBe(CloseCode.TooManyConnections);
    expect(closed.reason).toMatch(/MAX_WS_CONNECTIONS_PER_USER/);
    // Operators see it (and the capacity view reads the same counts).
    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    expect(metrics).toMatch(/dg_ws_refused_total\{[^}]*reason="per_user"[^}]*\} 1/);
    expect(metrics).toMatch(/dg_ws_busiest_user_connections\{[^}]*\} 2/);
    // Another user is served meanwhile.
    const other = await TestWsClient.connect(server.wsUrl, await server.token("bystander"));
    other.close();
    await other.waitForClose();
    // A freed slot is free again.
    a.close();
    await a.waitForClose();
    const again = await waitFor(
      "a slot after closing one",
      async () => {
        const s = await TestWsClient.open(server.wsUrl);
        s.send({ type: "connection_init", payload: { authorization: `Bearer ${flood}` } });
        const first = await Promise.race([s.waitForMessage().catch(() => null), s.waitForClose().then(() => null)]);
        return first?.type === "connection_ack" ? s : (s.close(), null);
      },
      (s) => s !== null,
    );
    again!.close();
    b.close();
    await Promise.all([again!.waitForClose(), b.waitForClose()]);
  });

  it("closes sockets past MAX_WS_CONNECTIONS with 1013 (try again later)", async () => {
    const held: TestWsClient[] = [];
    for (let i = 0; i < 6; i++) held.push(await TestWsClient.connect(server.wsUrl, await server.token(`many-${i}`)));
    const extra = await TestWsClient.open(server.wsUrl);
    const closed = await extra.waitForClose();
    expect(closed.code).toBe(CloseCode.TryAgainLater);
    expect(closed.reason).toMatch(/MAX_WS_CONNECTIONS/);
    for (const h of held) h.close();
    await Promise.all(held.map((h) => h.waitForClose()));
  });

  it("a connection does not write to the database (the user's row comes with the first mutation)", async () => {
    const token = await server.token("quiet-user");
    const ws = await TestWsClient.connect(server.wsUrl, token);
    ws.subscribe("1", `subscription { myScans { scanId } }`);
    const me = await request(server.url, `{ me { id role } }`, {}, token);
    expect(me.data).toEqual({ me: { id: "quiet-user", role: "USER" } });
    expect(await userRows("quiet-user")).toBe(0);
    const opened = await request(server.url, OPEN_SESSION, {}, token);
    expect(opened.errors).toBeUndefined();
    expect(await userRows("quiet-user")).toBe(1);
    ws.close();
    await ws.waitForClose();
  });
});

describe("token lifetime on sockets", () => {
  it("closes an open socket with 4403 when its token expires", async () => {
    const ws = await TestWsClient.connect(server.wsUrl, await server.token("short-lived", { expiresIn: 2 }));
    ws.subscribe("1", `subscription { myScans { scanId } }`);
    const closed = await ws.waitForClose(15_000);
    expect(closed.code).toBe(CloseCode.Forbidden);
    expect(closed.reason).toMatch(/expired/i);
  });

  it("closes at once a socket whose token expired within the verifier's clock tolerance", async () => {
    // jose accepts a token up to 5 s past `exp` (clock tolerance): the socket is opened, and its
    // first operation finds the token expired.
    const ws = await TestWsClient.open(server.wsUrl);
    ws.send({ type: "connection_init", payload: { authorization: `Bearer ${await server.token("stale", { expiresIn: -1 })}` } });
    const closed = await ws.waitForClose();
    expect(closed.code).toBe(CloseCode.Forbidden);
  });
});

describe("query cost with variables", () => {
  const NESTED = `query Q($n: Int, $m: Int) { sessions { scans(first: $n) { edges { node { findings(first: $m) { edges { node { id } } } } } } } }`;
  const FULL_PAGE = `query F($id: ID!) { scan(id: $id) { findings { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id type severity confidence maskedValue occurrences matchRatio location { source line table column } } } } } }`;

  it("refuses nested pages sized by variables, over HTTP and WebSocket alike", async () => {
    const token = await server.token("coster");
    const http = await request(server.url, NESTED, { n: 100, m: 500 }, token);
    expect(codeOf(http)).toBe("BAD_USER_INPUT");
    expect(http.errors![0]!.extensions!.reason).toBe("QUERY_LIMIT");
    const small = await request(server.url, NESTED, { n: 1, m: 1 }, token);
    expect(small.errors).toBeUndefined();

    const ws = await TestWsClient.connect(server.wsUrl, token);
    ws.send({ type: "subscribe", id: "q", payload: { query: NESTED, variables: { n: 100, m: 500 } } });
    const msg = (await ws.waitForMessage()) as { type: string; payload: Array<{ extensions: { code: string; reason: string } }> };
    expect(msg.type).toBe("error");
    expect(msg.payload[0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", reason: "QUERY_LIMIT" });
    ws.close();
  });

  it("admits the contract's default findings page with every field of a finding", async () => {
    const res = await request(server.url, FULL_PAGE, { id: "00000000-0000-0000-0000-000000000000" }, await server.token("coster"));
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ scan: null });
  });
});

/** A user's finished scan (its events are replayed to subscribers: next, and for scanProgress complete). */
async function finishedScan(user: string): Promise<{ token: string; scanId: string }> {
  const token = await server.token(user);
  const session = await request<{ openSession: { id: string } }, Record<string, unknown>>(server.url, OPEN_SESSION, {}, token);
  const started = await request<{ startDocumentScan: { id: string } }, Record<string, unknown>>(server.url, START_SCAN, { sessionId: session.data!.openSession.id }, token);
  expect(started.errors, JSON.stringify(server.output.filter((l) => l.includes('"level":50')).slice(-2))).toBeUndefined();
  const scanId = started.data!.startDocumentScan.id;
  await waitFor(
    "the scan to end",
    async () => (await request<{ scan: { status: string } }, Record<string, unknown>>(server.url, `query($id: ID!) { scan(id: $id) { status } }`, { id: scanId }, token)).data?.scan.status,
    (s) => s === "SUCCEEDED" || s === "FAILED",
    { timeoutMs: 30_000 },
  );
  return { token, scanId };
}

describe("no missed outcome", () => {
  it("replays a scan that ended before the subscription started, terminal state first (myScans since)", async () => {
    const before = new Date().toISOString();
    const { scanId } = await finishedScan("late-subscriber");

    // A client renewing its token reconnects and resubscribes from where it left off.
    const ws = await TestWsClient.connect(server.wsUrl, await server.token("late-subscriber"));
    ws.subscribe("1", MY_SCANS, { since: before });
    const first = (await ws.waitForMessage()) as { type: string; payload: { data: { myScans: { scanId: string; status: string } } } };
    expect(first.type).toBe("next");
    expect(first.payload.data.myScans).toMatchObject({ scanId, status: "SUCCEEDED" });

    // scanProgress on the finished scan: its terminal state, then complete.
    ws.subscribe("2", `subscription($id: ID!) { scanProgress(scanId: $id) { scanId status } }`, { id: scanId });
    const progress = await ws.waitForMessage();
    expect(progress).toMatchObject({ id: "2", type: "next", payload: { data: { scanProgress: { scanId, status: "SUCCEEDED" } } } });
    expect(await ws.waitForMessage()).toMatchObject({ id: "2", type: "complete" });
    ws.close();
  });

  it("another user's scans are never replayed", async () => {
    const ws = await TestWsClient.connect(server.wsUrl, await server.token("nobody-else"));
    ws.subscribe("1", MY_SCANS, { since: new Date(0).toISOString() });
    ws.subscribe("2", `subscription { myScans { scanId } }`);
    // Nothing arrives for this user; a ping round-trip proves the socket is served meanwhile.
    ws.send({ type: "ping" });
    expect(await ws.waitForMessage()).toMatchObject({ type: "pong" });
    expect(ws.pending).toBe(0);
    ws.close();
  });
});

describe("fan-out close to the wire, seen by graphql-ws's own client", () => {
  const PROGRESS = `subscription P($id: ID!) { scanProgress(scanId: $id) { scanId status seq } }`;
  const FEED = `subscription F($since: DateTime) { myScans(since: $since) { scanId status } }`;


  const clientFor = (token: string): Client =>
    createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, lazy: false });

  /** Every message of one subscription until it completes, or the first `take` of them. */
  function collect(client: Client, query: string, variables: Record<string, unknown>, take = Infinity): Promise<ExecutionResult<Record<string, unknown>, unknown>[]> {
    return new Promise((resolve, reject) => {
      const got: ExecutionResult<Record<string, unknown>, unknown>[] = [];
      const stop = client.subscribe(
        { query, variables },
        {
          next: (value) => {
            got.push(value);
            if (got.length >= take) {
              stop();
              resolve(got);
            }
          },
          error: reject,
          complete: () => resolve(got),
        },
      );
    });
  }

  it("delivers each subscriber its own messages with its own id, several per socket, and never another user's scan", async () => {
    const [alice, bob] = await Promise.all([finishedScan("fan-alice"), finishedScan("fan-bob")]);
    const a1 = clientFor(alice.token);
    const a2 = clientFor(alice.token);
    const b1 = clientFor(bob.token);
    try {
      // Same document and variables on several subscriptions and sockets: one operation, shared.
      const progress = await Promise.all([
        collect(a1, PROGRESS, { id: alice.scanId }),
        collect(a1, PROGRESS, { id: alice.scanId }),
        collect(a2, PROGRESS, { id: alice.scanId }),
        collect(b1, PROGRESS, { id: bob.scanId }),
      ]);
      for (const [i, messages] of progress.entries()) {
        const scanId = i < 3 ? alice.scanId : bob.scanId;
        expect(messages.length).toBeGreaterThan(0);
        expect(messages.at(-1)).toEqual({ data: { scanProgress: { scanId, status: "SUCCEEDED", seq: expect.any(Number) } } });
        for (const m of messages) expect((m.data as { scanProgress: { scanId: string } }).scanProgress.scanId).toBe(scanId);
      }
      // The same feed query and variables for two users: each gets only their own scan.
      const since = { since: new Date(0).toISOString() };
      const [feedA, feedB] = await Promise.all([collect(a2, FEED, since, 1), collect(b1, FEED, since, 1)]);
      expect(feedA).toEqual([{ data: { myScans: { scanId: alice.scanId, status: "SUCCEEDED" } } }]);
      expect(feedB).toEqual([{ data: { myScans: { scanId: bob.scanId, status: "SUCCEEDED" } } }]);
    } finally {
      await Promise.all([a1.dispose(), a2.dispose(), b1.dispose()]);
    }
  });

  it("writes the bytes graphql-ws would, for an id that needs escaping, then complete", async () => {
    const bob = await finishedScan("fan-bytes");
    const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
    const raw: string[] = [];
    socket.on("message", (data) => raw.push(String(data)));
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${bob.token}` } }));
    await waitFor("connection_ack", async () => raw.length, (n) => n >= 1);
    const id = 'a"\\b\u00e9\u2028';
    socket.send(JSON.stringify({ id, type: "subscribe", payload: { query: PROGRESS, variables: { id: bob.scanId } } }));
    await waitFor("complete", async () => raw.at(-1) ?? "", (last) => last.includes('"type":"complete"'));
    socket.close();
    const [, ...messages] = raw;
    const nexts = messages.slice(0, -1);
    expect(nexts.length).toBeGreaterThan(0);
    for (const text of nexts) {
      const parsed = JSON.parse(text) as { id: string; type: string; payload: { data: { scanProgress: { scanId: string } } } };
      expect(Object.keys(parsed)).toEqual(["id", "type", "payload"]);
      expect(parsed.id).toBe(id);
      expect(parsed.type).toBe("next");
      expect(parsed.payload.data.scanProgress.scanId).toBe(bob.scanId);
      // Byte for byte what graphql-ws's stringifyMessage gives for the same message.
      expect(text).toBe(JSON.stringify({ id, type: "next", payload: parsed.payload }));
    }
    expect(JSON.parse(messages.at(-1)!)).toEqual({ id, type: "complete" });
  });
});

describe("overload is an answer", () => {
  let busy: ServerProcess;
  let busyDb: TestDatabase;
  beforeAll(async () => {
    busyDb = await createTestDatabase();
    busy = await startServerProcess({
      DATABASE_URL: busyDb.url,
      DATABASE_POOL_SIZE: "1",
      DATABASE_CONNECT_TIMEOUT: "1500ms",
      OVERLOAD_RETRY_AFTER: "7s",
      CAPACITY_SAMPLE_INTERVAL: "60s",
    });
  }, 90_000);
  afterAll(async () => {
    await busy?.stop();
    await busyDb?.drop();
  });

  it("answers CAPACITY_EXCEEDED with HTTP 503 and Retry-After when no database connection is free in time, logged once with a count", async () => {
    const token = await busy.token("patient");
    expect((await request(busy.url, OPEN_SESSION, {}, token)).errors).toBeUndefined();
    // Hold the server's only pool connection: a query blocked on a table lock held from here.
    const locker = new pg.Client({ connectionString: busyDb.url });
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query(`LOCK TABLE "Session" IN ACCESS EXCLUSIVE MODE`);
    try {
      const blocked = request(busy.url, `{ sessions { id } }`, {}, token);
      await waitFor(
        "the blocked query to hold the pool",
        async () => (await locker.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`)).rows[0].n as number,
        (n) => n > 0,
      );
      const answers = await Promise.all(
        [1, 2, 3].map(() =>
          fetch(busy.url, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: `{ scans { totalCount } }` }),
          }),
        ),
      );
      for (const res of answers) {
        expect(res.status).toBe(503);
        expect(res.headers.get("retry-after")).toBe("7");
        const body = (await res.json()) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
        expect(body.errors[0]!.extensions).toMatchObject({ code: "CAPACITY_EXCEEDED", retryAfterSeconds: 7 });
        expect(JSON.stringify(body)).not.toMatch(/timeout exceeded|stack|pg-pool/i);
      }
      await locker.query("ROLLBACK");
      expect((await blocked).errors).toBeUndefined();
    } finally {
      await locker.end().catch(() => undefined);
    }
    const busyLines = busy.output.filter((l) => l.includes("database busy"));
    expect(busyLines).toHaveLength(1);
    expect(busy.output.some((l) => l.includes("INTERNAL_SERVER_ERROR") || l.includes("internal error"))).toBe(false);
  }, 60_000);
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

describe("a client flooding messages", () => {
  it("is read at the pace its messages start (paused past a backlog, resumed after): every message answered, others served", async () => {
    const ws = await TestWsClient.connect(server.wsUrl, await server.token("chatty"));
    const N = 3_000;
    for (let i = 0; i < N; i++) ws.send({ type: "ping" });
    const me = await request(server.url, `{ me { id } }`, {}, await server.token("bystander-2"));
    expect(me.data).toEqual({ me: { id: "bystander-2" } });
    for (let i = 0; i < N; i++) expect(await ws.waitForMessage(10_000)).toMatchObject({ type: "pong" });
    expect(ws.pending).toBe(0);
    ws.close();
    await ws.waitForClose();
  }, 60_000);
});
