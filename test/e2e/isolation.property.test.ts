/**
 * Model-based isolation test (fast-check `fc.commands` + `fc.asyncModelRun`): several users
 * drive random sequences of every session, connection, payment and scan operation against a real
 * server over HTTP, often with ids taken from other users' responses (and from earlier runs,
 * and ids of the wrong kind, and ids that never existed). After every step:
 *  - the response matches what the model predicts, strictly: errors only where the model
 *    predicts one, and then exactly that code (another user's id answers exactly like an unknown
 *    one: null without errors, or NOT_FOUND); scans' statuses and sequence numbers too (the
 *    server runs no scans, SCAN_WORKERS=0, so a scan stays QUEUED until cancelled and the model
 *    knows every status: cancel gives CANCELLED, cancelling again returns it unchanged);
 *  - no response to one user carries another user's id or marker;
 *  - the database holds exactly the model's rows for this run's users.
 *
 * Adding an operation: write one `Op` below (arbitrary → check/run) and add it to `OPS`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  CloseSessionDocument,
  DatabaseConnectionsDocument,
  DeleteDatabaseConnectionDocument,
  GetSessionDocument,
  OpenSessionDocument,
  PaymentsDocument,
  RecordPaymentDocument,
  SaveDatabaseConnectionDocument,
  SessionsDocument,
  TestDatabaseConnectionDocument,
  StartDocumentScanDocument,
  CancelScanDocument,
  GetScanDocument,
  ListScansDocument,
} from "../generated/graphql.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request, type GraphQLResponse } from "../support/graphql-client.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const RUNS = Number(process.env.ISOLATION_RUNS ?? 60);
const SEED = process.env.ISOLATION_SEED === "random" ? undefined : Number(process.env.ISOLATION_SEED ?? 1_612_2026);
const USERS = 3;

let db: TestDatabase;
let server: ServerProcess;
let sql: pg.Client;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "dg-isolation-"));
  server = await startServerProcess({
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    // API only: scans stay QUEUED until cancelled, so the model predicts every status exactly.
    SCAN_WORKERS: "0",
    // Earlier runs' scans stay queued; they must not fill the queue of later runs.
    MAX_QUEUED_SCANS: "1000000",
  });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
}, 90_000);

afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------
// Model

interface Owned {
  owner: string;
  sessionId: string;
  label: string;
}
interface ScanModel extends Owned {
  status: "QUEUED" | "CANCELLED";
  /** The latest sequence number seen: a queued scan's grows as the queue moves; a cancelled one's is final. */
  seq: number;
}
interface Model {
  users: string[];
  sessions: Map<string, { owner: string; name: string }>;
  connections: Map<string, Owned>;
  payments: Map<string, Owned>;
  scans: Map<string, ScanModel>;
  /** Every id any response carried in this run, plus decoys: what a curious user would try. */
  pool: string[];
}
interface Real {
  tokens: Map<string, string>;
}

/** Ids seen in earlier runs (rows of users who are not in this run): still in the database. */
const earlierIds = new Set<string>();

const ownerOf = (m: Model, id: string): string | undefined =>
  m.sessions.get(id)?.owner ?? m.connections.get(id)?.owner ?? m.payments.get(id)?.owner ?? m.scans.get(id)?.owner;

/** How often an operation was aimed at another user's object: proof the test probes what it claims. */
const probes = { foreign: 0, own: 0, unknown: 0, ownQueuedScanCancelled: 0 };

type Kind = "sessions" | "connections" | "payments" | "scans";

/**
 * Chooses an id of `kind` for `user` from `n`: half the time one of their own, a quarter another
 * user's from this run, a quarter anything (earlier runs' ids, decoys, wrong kinds). Own and
 * foreign ids are of the kind asked for when there are any, so that an operation meets its own
 * objects often enough to check what it does to them.
 */
function pick(m: Model, n: number, user: string, kind: Kind): string {
  const choose = (ids: string[]) => (ids.length === 0 ? undefined : ids[Math.floor(n / 4) % ids.length]);
  const ofKind = (ids: string[]) => {
    const same = ids.filter((x) => m[kind].has(x));
    return same.length > 0 ? same : ids;
  };
  const lane = n % 4;
  let id: string | undefined;
  if (lane <= 1) id = choose(ofKind(m.pool.filter((x) => ownerOf(m, x) === user)));
  else if (lane === 2) id = choose(ofKind(m.pool.filter((x) => ownerOf(m, x) !== undefined && ownerOf(m, x) !== user)));
  id ??= choose([...m.pool, ...earlierIds]) ?? randomUUID();
  const owner = ownerOf(m, id);
  if (owner === undefined) probes[earlierIds.has(id) ? "foreign" : "unknown"]++;
  else probes[owner === user ? "own" : "foreign"]++;
  return id;
}

function remember(m: Model, id: string): void {
  if (!m.pool.includes(id)) m.pool.push(id);
}

/** A response to `user` must not mention another user's marker or any id that is not theirs. */
function expectNoLeak(m: Model, user: string, res: GraphQLResponse<unknown>): void {
  const text = JSON.stringify(res);
  for (const other of m.users) if (other !== user) expect(text, `response to ${user} names ${other}`).not.toContain(other);
  const foreign = [
    ...[...m.sessions].filter(([, v]) => v.owner !== user).map(([id]) => id),
    ...[...m.connections].filter(([, v]) => v.owner !== user).map(([id]) => id),
    ...[...m.payments].filter(([, v]) => v.owner !== user).map(([id]) => id),
    ...[...m.scans].filter(([, v]) => v.owner !== user).map(([id]) => id),
    ...earlierIds,
  ];
  for (const id of foreign) expect(text, `response to ${user} carries foreign id ${id}`).not.toContain(id);
}

/** The model predicts exactly one error with this code, and no data. */
function expectError(res: GraphQLResponse<unknown>, expected: string): void {
  expect(res.errors?.map((e) => e.extensions?.code), JSON.stringify(res)).toEqual([expected]);
  expect(res.data ?? null).toBeNull();
}
/** The model predicts success: no error at all (a null with errors is not "not found"). */
function expectOk(res: GraphQLResponse<unknown>): void {
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
}

/** The database holds exactly the model's rows for this run's users. */
async function expectDatabaseMatches(m: Model): Promise<void> {
  const owners = m.users;
  const s = await sql.query<{ id: string; ownerId: string; name: string }>(`select id, "ownerId", name from "Session" where "ownerId" = any($1)`, [owners]);
  const c = await sql.query<{ id: string; ownerId: string; sessionId: string; name: string }>(
    `select id, "ownerId", "sessionId", name from "DatabaseConnection" where "ownerId" = any($1)`, [owners]);
  const p = await sql.query<{ id: string; ownerId: string; sessionId: string; reference: string }>(
    `select id, "ownerId", "sessionId", reference from "PaymentRecord" where "ownerId" = any($1)`, [owners]);
  const sc = await sql.query<{ id: string; ownerId: string; sessionId: string; status: string }>(
    `select id, "ownerId", "sessionId", status::text as status from "Scan" where "ownerId" = any($1)`, [owners]);
  const sortBy = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
  expect(sortBy(s.rows)).toEqual(sortBy([...m.sessions].map(([id, v]) => ({ id, ownerId: v.owner, name: v.name }))));
  expect(sortBy(c.rows)).toEqual(sortBy([...m.connections].map(([id, v]) => ({ id, ownerId: v.owner, sessionId: v.sessionId, name: v.label }))));
  expect(sortBy(p.rows)).toEqual(sortBy([...m.payments].map(([id, v]) => ({ id, ownerId: v.owner, sessionId: v.sessionId, reference: v.label }))));
  expect(sortBy(sc.rows)).toEqual(sortBy([...m.scans].map(([id, v]) => ({ id, ownerId: v.owner, sessionId: v.sessionId, status: v.status }))));
}

// ------------------------------------------------------------------------------------------
// Operations

type Cmd = fc.AsyncCommand<Model, Real>;

/** One operation: `act` sends the request, checks it against the model and updates the model. */
function op<P>(name: string, params: fc.Arbitrary<P>, act: (m: Model, r: Real, user: string, p: P) => Promise<void>): fc.Arbitrary<Cmd> {
  return fc.tuple(fc.nat(USERS - 1), params).map(
    ([u, p]) =>
      ({
        check: () => true,
        async run(m: Model, r: Real) {
          const user = m.users[u]!;
          await act(m, r, user, p);
          await expectDatabaseMatches(m);
        },
        toString: () => `${name}(u${u}, ${JSON.stringify(p)})`,
      }) satisfies Cmd,
  );
}

const call = async <T>(m: Model, r: Real, user: string, doc: Parameters<typeof request>[1], vars: Record<string, unknown>) => {
  const res = (await request(server.url, doc as never, vars as never, r.tokens.get(user))) as GraphQLResponse<T>;
  expectNoLeak(m, user, res);
  return res;
};

const OPS: Array<fc.Arbitrary<Cmd>> = [
  op("openSession", fc.nat(999), async (m, r, user, n) => {
    const name = `${user}-s${n}`;
    const res = await call<{ openSession: { id: string; name: string } }>(m, r, user, OpenSessionDocument, { input: { name } });
    expectOk(res);
    const s = res.data!.openSession;
    expect(s.name).toBe(name);
    m.sessions.set(s.id, { owner: user, name });
    remember(m, s.id);
  }),

  op("closeSession", fc.nat(), async (m, r, user, n) => {
    const id = pick(m, n, user, "sessions");
    const res = await call(m, r, user, CloseSessionDocument, { id });
    if (m.sessions.get(id)?.owner === user) {
      expectOk(res);
      expect(res.data).toEqual({ closeSession: true });
      m.sessions.delete(id);
      for (const map of [m.connections, m.payments, m.scans]) for (const [k, v] of map) if (v.sessionId === id) map.delete(k);
    } else {
      expectError(res, "NOT_FOUND");
    }
  }),

  op("sessions", fc.constant(null), async (m, r, user) => {
    const res = await call<{ sessions: Array<{ id: string; name: string }> }>(m, r, user, SessionsDocument, {});
    expectOk(res);
    const mine = [...m.sessions].filter(([, v]) => v.owner === user).map(([id, v]) => ({ id, name: v.name }));
    expect(res.data!.sessions.map(({ id, name }) => ({ id, name })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      mine.sort((a, b) => a.id.localeCompare(b.id)),
    );
  }),

  op("session", fc.nat(), async (m, r, user, n) => {
    const id = pick(m, n, user, "sessions");
    const res = await call<{ session: { id: string; name: string } | null }>(m, r, user, GetSessionDocument, { id });
    const s = m.sessions.get(id);
    expectOk(res);
    if (s?.owner === user) expect(res.data!.session).toMatchObject({ id, name: s.name });
    else expect(res.data).toEqual({ session: null });
  }),

  op("saveDatabaseConnection", fc.tuple(fc.nat(), fc.nat(999), fc.boolean()), async (m, r, user, [n, k, valid]) => {
    const sessionId = pick(m, n, user, "sessions");
    const name = `${user}-c${k}`;
    const input = { sessionId, name, engine: "POSTGRESQL", host: "127.0.0.1", port: valid ? 1 : 0, database: "crm", user: "reader", password: `secret-${user}` };
    const res = await call<{ saveDatabaseConnection: { id: string; name: string } }>(m, r, user, SaveDatabaseConnectionDocument, { input });
    expect(JSON.stringify(res)).not.toContain(`secret-${user}`);
    if (!valid) return expectError(res, "BAD_USER_INPUT");
    if (m.sessions.get(sessionId)?.owner !== user) return expectError(res, "NOT_FOUND");
    expectOk(res);
    const c = res.data!.saveDatabaseConnection;
    m.connections.set(c.id, { owner: user, sessionId, label: name });
    remember(m, c.id);
  }),

  op("databaseConnections", fc.nat(), async (m, r, user, n) => {
    const sessionId = pick(m, n, user, "sessions");
    const res = await call<{ databaseConnections: Array<{ id: string }> }>(m, r, user, DatabaseConnectionsDocument, { sessionId });
    if (m.sessions.get(sessionId)?.owner !== user) return expectError(res, "NOT_FOUND");
    expectOk(res);
    const want = [...m.connections].filter(([, v]) => v.sessionId === sessionId).map(([id]) => id).sort();
    expect(res.data!.databaseConnections.map((c) => c.id).sort()).toEqual(want);
  }),

  op("deleteDatabaseConnection", fc.nat(), async (m, r, user, n) => {
    const id = pick(m, n, user, "connections");
    const res = await call(m, r, user, DeleteDatabaseConnectionDocument, { id });
    if (m.connections.get(id)?.owner === user) {
      expectOk(res);
      expect(res.data).toEqual({ deleteDatabaseConnection: true });
      m.connections.delete(id);
    } else {
      expectError(res, "NOT_FOUND");
    }
  }),

  op("testDatabaseConnection", fc.nat(), async (m, r, user, n) => {
    const id = pick(m, n, user, "connections");
    const res = await call<{ testDatabaseConnection: { ok: boolean; code: string | null } }>(m, r, user, TestDatabaseConnectionDocument, { id });
    if (m.connections.get(id)?.owner === user) {
      expectOk(res);
      expect(res.data!.testDatabaseConnection).toMatchObject({ ok: false, code: "CONNECTION_FAILED" }); // port 1 refuses
    } else {
      expectError(res, "NOT_FOUND");
    }
  }),

  op("recordPayment", fc.tuple(fc.nat(), fc.nat(999), fc.constantFrom("ok", "card", "currency")), async (m, r, user, [n, k, kind]) => {
    const sessionId = pick(m, n, user, "sessions");
    const reference = kind === "card" ? `${user} 4111 1111 1111 1111` : `${user}-p${k}`;
    const input = { sessionId, provider: "mollie", reference, amountCents: 100 + k, currency: kind === "currency" ? "XXY" : "eur", status: "paid" };
    const res = await call<{ recordPayment: { id: string } }>(m, r, user, RecordPaymentDocument, { input });
    if (kind !== "ok") return expectError(res, "BAD_USER_INPUT");
    if (m.sessions.get(sessionId)?.owner !== user) return expectError(res, "NOT_FOUND");
    expectOk(res);
    m.payments.set(res.data!.recordPayment.id, { owner: user, sessionId, label: reference });
    remember(m, res.data!.recordPayment.id);
  }),

  op("payments", fc.nat(), async (m, r, user, n) => {
    const sessionId = pick(m, n, user, "sessions");
    const res = await call<{ payments: Array<{ id: string; reference: string }> }>(m, r, user, PaymentsDocument, { sessionId });
    if (m.sessions.get(sessionId)?.owner !== user) return expectError(res, "NOT_FOUND");
    expectOk(res);
    const want = [...m.payments].filter(([, v]) => v.sessionId === sessionId).map(([id, v]) => ({ id, reference: v.label }));
    expect(res.data!.payments.map(({ id, reference }) => ({ id, reference })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      want.sort((a, b) => a.id.localeCompare(b.id)),
    );
  }),

  op("startDocumentScan", fc.tuple(fc.nat(), fc.nat(999)), async (m, r, user, [n, k]) => {
    const sessionId = pick(m, n, user, "sessions");
    const name = `${user}-d${k}.txt`;
    const documents = [{ name, text: `Contact ${user}@example.com or IBAN NL91ABNA0417164300 (${k})` }];
    const res = await call<{ startDocumentScan: { id: string; status: string; seq: number } }>(m, r, user, StartDocumentScanDocument, { input: { sessionId, documents } });
    if (m.sessions.get(sessionId)?.owner !== user) return expectError(res, "NOT_FOUND");
    // Three scans per user may be active (QUEUED or RUNNING; here they stay QUEUED until cancelled).
    const active = [...m.scans.values()].filter((s) => s.owner === user && s.status === "QUEUED").length;
    if (active >= 3) return expectError(res, "SCAN_LIMIT_REACHED");
    expectOk(res);
    const scan = res.data!.startDocumentScan;
    expect(scan.status).toBe("QUEUED");
    m.scans.set(scan.id, { owner: user, sessionId, label: name, status: "QUEUED", seq: scan.seq });
    remember(m, scan.id);
  }),

  op("cancelScan", fc.nat(), async (m, r, user, n) => {
    const id = pick(m, n, user, "scans");
    const res = await call<{ cancelScan: { id: string; status: string; seq: number } }>(m, r, user, CancelScanDocument, { id });
    const s = m.scans.get(id);
    if (s?.owner === user) {
      expectOk(res);
      const got = res.data!.cancelScan;
      expect(got.id).toBe(id);
      // A QUEUED scan ends CANCELLED with a new sequence number; a finished one comes back unchanged.
      expect(got.status).toBe("CANCELLED");
      if (s.status === "QUEUED") {
        probes.ownQueuedScanCancelled++;
        expect(got.seq).toBeGreaterThan(s.seq);
      }
      else expect(got.seq).toBe(s.seq);
      s.status = "CANCELLED";
      s.seq = got.seq;
    } else {
      expectError(res, "NOT_FOUND");
    }
  }),

  op("scan", fc.nat(), async (m, r, user, n) => {
    const id = pick(m, n, user, "scans");
    const res = await call<{ scan: { id: string; status: string; seq: number; session: { id: string } } | null }>(m, r, user, GetScanDocument, { id });
    const s = m.scans.get(id);
    // Another user's scan reads exactly as an unknown one: null, and no error (a null that comes
    // with an error is a failure: it is what a missing owner filter plus a failing field gives).
    expectOk(res);
    if (s?.owner === user) {
      const got = res.data!.scan!;
      expect(got).toMatchObject({ id, status: s.status, session: { id: s.sessionId } });
      if (s.status === "CANCELLED") expect(got.seq).toBe(s.seq);
      else expect(got.seq).toBeGreaterThanOrEqual(s.seq);
      s.seq = got.seq;
    }
    else expect(res.data).toEqual({ scan: null });
  }),

  op("scans", fc.tuple(fc.nat(), fc.boolean()), async (m, r, user, [n, bySession]) => {
    const sessionId = bySession ? pick(m, n, user, "sessions") : undefined;
    const res = await call<{ scans: { totalCount: number; edges: Array<{ node: { id: string; status: string } }> } }>(m, r, user, ListScansDocument, { sessionId, first: 100 });
    if (sessionId && m.sessions.get(sessionId)?.owner !== user) return expectError(res, "NOT_FOUND");
    expectOk(res);
    const want = [...m.scans].filter(([, v]) => v.owner === user && (!sessionId || v.sessionId === sessionId)).map(([id, v]) => `${id} ${v.status}`).sort();
    expect(res.data!.scans.edges.map((e) => `${e.node.id} ${e.node.status}`).sort()).toEqual(want);
    expect(res.data!.scans.totalCount).toBe(want.length);
  }),
];

// Opening sessions is weighted up so that the other operations have something to work on, and
// starting and cancelling scans so that cancels meet their own queued scans (counted below).
const commands = fc.commands([OPS[0]!, OPS[0]!, ...OPS, OPS[4]!, OPS[8]!, ...Array(3).fill(OPS[10]!), ...Array(4).fill(OPS[11]!)], { maxCommands: 40, size: "large" });

it(
  `no user ever sees or changes another user's data (${RUNS} runs)`,
  async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const tag = `${(run++).toString(36)}${randomBytes(3).toString("hex")}`;
        const users = Array.from({ length: USERS }, (_, i) => `user${i}x${tag}`);
        const model: Model = { users, sessions: new Map(), connections: new Map(), payments: new Map(), scans: new Map(), pool: [randomUUID(), "not-a-uuid"] };
        const tokens = new Map(await Promise.all(users.map(async (u) => [u, await server.token(u)] as const)));
        try {
          await fc.asyncModelRun(() => ({ model, real: { tokens } }), cmds);
        } finally {
          for (const id of [...model.sessions.keys(), ...model.connections.keys(), ...model.payments.keys(), ...model.scans.keys()]) earlierIds.add(id);
          // Keep the "earlier ids" pool small so leak checks stay cheap.
          while (earlierIds.size > 60) earlierIds.delete(earlierIds.values().next().value!);
        }
      }),
      // A fixed seed by default: the same 60 command sequences every run, so the probe counts
      // below are reproducible (a random seed once gave too few queued-scan cancels to judge).
      // ISOLATION_SEED=random explores new sequences; a failure prints its seed to replay.
      { numRuns: RUNS, endOnFailure: true, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    console.info(`isolation probes (seed ${SEED ?? "random"}): ${JSON.stringify(probes)}`);
    expect(probes.foreign).toBeGreaterThan(RUNS);
    expect(probes.own).toBeGreaterThan(RUNS);
    // ~11 in 60 runs: enough that a cancel which does nothing cannot pass unseen.
    expect(probes.ownQueuedScanCancelled).toBeGreaterThanOrEqual(RUNS / 20);
  },
  120_000,
);
