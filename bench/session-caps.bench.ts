/**
 * Issue 12 costs, beside baselines run in the same process on the same database:
 * - recordPayment with the per-session cap (count, then count + insert under the session's
 *   advisory lock in one transaction) against the bare repository insert;
 * - the same with 20 concurrent writers into one session (they queue on its lock);
 * - the start-up key check over N sealed connection passwords against `select 1`;
 * - sub and code-path validation per call against a bare `normalize("NFKC")`.
 * Prints figures; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- bench/session-caps.bench.ts [rows]
 *   (creates and drops its own scratch database on that server)
 */
import "reflect-metadata";
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { PaymentRepo } from "../src/modules/payments/payment.repo.js";
import { PaymentService } from "../src/modules/payments/payment.service.js";
import { normaliseCodePath } from "../src/modules/scans/input-names.js";
import { SessionRepo } from "../src/modules/sessions/session.repo.js";
import { SessionService } from "../src/modules/sessions/session.service.js";
import { ActivityTracker } from "../src/modules/viewer/activity.service.js";
import { subjectProblem } from "../src/platform/auth/jwt.js";
import { checkKeyring, PgKeyCheckStore } from "../src/platform/crypto/key-check.js";
import { parseEncryptionKeys, seal } from "../src/platform/crypto/secret-box.js";
import { applyMigrations } from "../src/platform/db/migrate.js";
import { createPool } from "../src/platform/db/pool.js";
import { createPrisma } from "../src/platform/db/prisma.js";
import { silentLogger } from "../src/platform/observability/logger.js";

const ROWS = Number(process.argv[2] ?? 10_000);
const admin = process.env.DATABASE_URL;
if (!admin) throw new Error("set DATABASE_URL to a PostgreSQL server where a scratch database may be created");
const name = `dg_bench_caps_${randomBytes(4).toString("hex")}`;
const adminClient = new pg.Client({ connectionString: admin });
await adminClient.connect();
await adminClient.query(`CREATE DATABASE ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
try {
  await applyMigrations(url.toString(), silentLogger);
  const pool = createPool({ connectionString: url.toString(), max: 20, log: silentLogger });
  const prisma = createPrisma(pool);
  const activity = new ActivityTracker(prisma, silentLogger, { sessionTtlMs: 3_600_000 });
  const sessions = new SessionService(new SessionRepo(prisma), activity, { sessionTtlMs: 3_600_000, maxSessionsPerUser: 100_000, rowCaps: { payments: 200 } });
  const repo = new PaymentRepo(prisma);
  const payments = new PaymentService(repo, sessions, silentLogger);
  await prisma.user.create({ data: { id: "bench" } });
  const input = (sessionId: string, i: number) => ({ sessionId, provider: "mollie", reference: `tr_${i}`, amountCents: 100, currency: "EUR", status: "PAID", description: null });

  const time = async (n: number, fn: (i: number) => Promise<unknown>) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn(i);
    return Number(process.hrtime.bigint() - t) / 1e6 / n;
  };
  const N = 400;
  for (let round = 0; round < 2; round++) {
    let capped = (await sessions.open("bench", null)).id;
    const withCap = await time(N, async (i) => {
      if (i % 200 === 0 && i > 0) capped = (await sessions.open("bench", null)).id;
      await payments.record("bench", input(capped, i));
    });
    const bare = (await sessions.open("bench", null)).id;
    const baseline = await time(N, (i) => repo.insert("bench", { ...input(bare, i), sessionId: bare }));
    console.log(`round ${round + 1}: recordPayment with cap ${withCap.toFixed(2)} ms/op, bare insert ${baseline.toFixed(2)} ms/op, ratio ${(withCap / baseline).toFixed(2)}`);
  }

  const burst = async (fn: (sessionId: string, i: number) => Promise<unknown>) => {
    const s = (await sessions.open("bench", null)).id;
    const t = process.hrtime.bigint();
    await Promise.allSettled(Array.from({ length: 20 }, (_, i) => fn(s, i)));
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const capBurst = await burst((s, i) => payments.record("bench", input(s, i)));
  const bareBurst = await burst((s, i) => repo.insert("bench", { ...input(s, i), sessionId: s }));
  console.log(`20 concurrent writers into one session: with cap ${capBurst.toFixed(1)} ms, bare ${bareBurst.toFixed(1)} ms, ratio ${(capBurst / bareBurst).toFixed(2)}`);

  // Start-up key check over ROWS sealed passwords under two key ids.
  const ring = parseEncryptionKeys(`k2:${randomBytes(32).toString("base64")},k1:${randomBytes(32).toString("base64")}`);
  const old = { currentKeyId: "k1", keys: ring.keys };
  const s = (await sessions.open("bench", null)).id;
  const ids: string[] = [];
  const sealed: Buffer[] = [];
  const keyIds: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const id = randomUUID();
    const box = seal(i % 2 ? ring : old, "pw", { ownerId: "bench", rowId: id, purpose: "db-password" });
    ids.push(id);
    sealed.push(box.ciphertext);
    keyIds.push(box.keyId);
  }
  await pool.query(
    `INSERT INTO "DatabaseConnection" (id, "ownerId", "sessionId", name, engine, host, port, database, "user", "passwordCiphertext", "keyId")
     SELECT id, 'bench', $1, 'db', 'POSTGRESQL', 'db.example', 5432, 'crm', 'reader', c, k FROM unnest($2::uuid[], $3::bytea[], $4::text[]) AS t(id, c, k)`,
    [s, ids, sealed, keyIds],
  );
  await pool.query("VACUUM ANALYZE");
  const store = new PgKeyCheckStore(pool, [{ table: "DatabaseConnection", ciphertext: "passwordCiphertext", purpose: "db-password" }]);
  const best = async (fn: () => Promise<unknown>) => {
    let min = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      await fn();
      min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e6);
    }
    return min;
  };
  await checkKeyring(ring, store); // records the fingerprints
  await pool.query(`DELETE FROM "EncryptionKeyFingerprint"`);
  const check = await best(async () => {
    await checkKeyring(ring, store); // the legacy path: one trial open per key id
    await pool.query(`DELETE FROM "EncryptionKeyFingerprint"`);
  });
  const select1 = await best(() => pool.query("select 1"));
  console.log(`key check over ${ROWS} sealed passwords (2 key ids): ${check.toFixed(1)} ms best of 5; select 1: ${select1.toFixed(2)} ms`);

  const sub = "auth0|" + "x".repeat(190);
  const path = "src/" + "deep/".repeat(90) + "file.ts";
  const perCall = (fn: () => unknown, n = 100_000) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t) / n;
  };
  const subNs = perCall(() => subjectProblem(sub));
  const pathNs = perCall(() => normaliseCodePath(path), 20_000);
  const nfkcNs = perCall(() => path.normalize("NFKC"), 20_000);
  console.log(`subjectProblem (196 chars) ${subNs.toFixed(0)} ns/call; normaliseCodePath (${path.length} chars) ${pathNs.toFixed(0)} ns/call; bare normalize("NFKC") ${nfkcNs.toFixed(0)} ns/call, ratio ${(pathNs / nfkcNs).toFixed(2)}`);
  await prisma.$disconnect();
  await pool.end();
} finally {
  await adminClient.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await adminClient.end();
}
