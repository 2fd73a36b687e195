/**
 * Main-thread time to seal and to open one queued input of MAX_DOCUMENT_BYTES (10 MiB), the
 * way each release does it, measured in this process as the main thread's event-loop active
 * time (performance.eventLoopUtilization) around the operation:
 *
 * - seal, baseline: createCipheriv on the main thread and one Buffer.concat into the stored
 *   format (what input-box.ts did up to a4e97be);
 * - seal, now: input-box.ts `seal` (WebCrypto on libuv's pool; PostgreSQL joins head and body);
 * - open, baseline: the synchronous open on the main thread, then the extraction thread gets
 *   the document in clear;
 * - open, now: the extraction thread gets the sealed bytes and the key and opens them itself.
 *   "extract only" (a clear input) is the part both open rows share.
 *
 * With a database (DATABASE_URL's server, or an embedded one; a fresh migrated database):
 * - admit: ScanOwnerRepo.admit of one such input, sealing as the baseline did (cipher and
 *   join on the main thread) against now (WebCrypto, head and body joined by PostgreSQL);
 * - load: reading the stored input back, as 1 MiB SELECT slices of hex bytea (the baseline
 *   loadInput) against ScanWorkerRepo.loadInput now (binary COPY rows, bytea-copy.ts).
 *
 * Asserts nothing. Prints medians and minimums of interleaved rounds and the load average.
 *
 *   DATABASE_URL=... node --import @swc-node/register/esm-register bench/input-box.bench.ts [--rounds 9] [--mb 10] [--no-db]
 */
import { createCipheriv, randomBytes } from "node:crypto";
import "reflect-metadata";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { createInputBox, joinSealed, openSealed } from "../src/modules/scans/input-box.js";
import { createDetectionPool } from "../src/modules/scans/scanners/detection-pool.js";
import type { ExtractTask } from "../src/modules/scans/scanners/extract-input.js";
import { deriveKey, parseEncryptionKeys } from "../src/platform/crypto/secret-box.js";
import { ScanOwnerRepo } from "../src/modules/scans/scan-owner.repo.js";
import { ScanWorkerRepo } from "../src/modules/scans/scan-worker.repo.js";
import { ScanKind } from "../src/modules/scans/scan.type.js";
import { createPool } from "../src/platform/db/pool.js";
import { createPrisma } from "../src/platform/db/prisma.js";
import { createLogger } from "../src/platform/observability/logger.js";
import { benchDatabase, denseText } from "./server-bench.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const rounds = Number(arg("rounds", "9"));
const bytes = Number(arg("mb", "10")) * 1024 * 1024;

const keyring = parseEncryptionKeys(`k1:${randomBytes(32).toString("base64")}`);
const box = createInputBox(keyring);
const place = { ownerId: "bench", scanId: "00000000-0000-4000-8000-000000000001", ordinal: 0 };
const plain = Buffer.from(denseText(bytes).slice(0, bytes));

/** input-box.ts's seal before this change: the cipher and one join of the stored form on the main thread. */
const subKey = deriveKey(keyring, "scan-input", "k1");
const aad = Buffer.from(`dataguardian/scan-input|v1|k1|${place.ownerId}|${place.scanId}|${place.ordinal}`, "utf8");
function sealOnMainThread(content: Uint8Array): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", subKey, nonce, { authTagLength: 16 });
  cipher.setAAD(aad);
  const body = cipher.update(content);
  const tail = cipher.final();
  return Buffer.concat([Buffer.from([1]), nonce, body, tail, cipher.getAuthTag()]);
}

/** Main-thread active ms while `fn` runs (nothing else runs in this process meanwhile). */
async function mainThreadMs(fn: () => unknown): Promise<number> {
  const before = performance.eventLoopUtilization();
  await fn();
  return performance.eventLoopUtilization(before).active;
}

const pool = createDetectionPool({ threads: 1, maxHeapMb: 256 });
const task = (content: Uint8Array, sealed?: ExtractTask["sealed"]): ExtractTask => ({
  name: "big.txt",
  content,
  sealed,
  mode: "document",
  maxTextBytes: 4 * bytes,
  chunkBytes: 64 * 1024,
});
const stored = joinSealed(await box.seal(place, plain));
if (!Buffer.from(openSealed(box.keyFor(place, "k1"), sealOnMainThread(plain))).equals(plain)) throw new Error("baseline seal does not open");
// Warm the thread and the JIT on both paths.
for (let i = 0; i < 2; i++) {
  await pool.extract(task(Uint8Array.from(stored), box.keyFor(place, "k1")));
  await pool.extract(task(Uint8Array.from(plain)));
  sealOnMainThread(plain);
  await box.seal(place, plain);
}

const results: Record<string, number[]> = {
  "seal, baseline (main thread)": [],
  "seal, now (WebCrypto)": [],
  "open + extract, baseline": [],
  "open + extract, now (in thread)": [],
  "extract only (clear input)": [],
};
const wall: Record<string, number[]> = Object.fromEntries(Object.keys(results).map((k) => [k, []]));
const record = async (name: string, fn: () => unknown) => {
  const t0 = performance.now();
  results[name]!.push(await mainThreadMs(fn));
  wall[name]!.push(performance.now() - t0);
};
for (let r = 0; r < rounds; r++) {
  await record("seal, baseline (main thread)", () => sealOnMainThread(plain));
  await record("seal, now (WebCrypto)", () => box.seal(place, plain));
  const a = Uint8Array.from(stored);
  const b = Uint8Array.from(stored);
  const c = Uint8Array.from(plain);
  await record("open + extract, baseline", async () => {
    const opened = openSealed(box.keyFor(place, "k1"), a);
    const res = await pool.extract(task(opened));
    if (!res.ok) throw new Error("not extracted");
  });
  await record("open + extract, now (in thread)", async () => {
    const res = await pool.extract(task(b, box.keyFor(place, "k1")));
    if (!res.ok) throw new Error("not extracted");
  });
  await record("extract only (clear input)", async () => {
    const res = await pool.extract(task(c));
    if (!res.ok) throw new Error("not extracted");
  });
}
await pool.close();

if (!process.argv.includes("--no-db")) {
  const log = createLogger({ level: "warn", name: "bench" });
  const db = await benchDatabase("inputbox", log);
  const pgPool = createPool({ connectionString: db.url, max: 4, log });
  const prisma = createPrisma(pgPool);
  try {
    const owners = new ScanOwnerRepo(prisma, pgPool);
    const workers = new ScanWorkerRepo(prisma, pgPool);
    await prisma.user.create({ data: { id: "bench" } });
    const session = await prisma.session.create({ data: { ownerId: "bench", name: "b", expiresAt: new Date(Date.now() + 3_600_000) } });
    const limits = { perUser: 1_000_000, maxConcurrent: 1, maxQueued: 1_000_000 };
    const admit = (seal: Parameters<typeof owners.admit>[0]["seal"]) =>
      owners.admit({ ownerId: "bench", sessionId: session.id, kind: ScanKind.DOCUMENT, options: null, connectionId: null, inputs: [{ name: "big.txt", content: plain }], limits, seal });
    // The baseline's seal: cipher and the whole stored form joined on the main thread.
    const mainThreadSeal = async (_p: unknown, content: Uint8Array) => ({ head: Buffer.alloc(0), body: sealOnMainThread(content), keyId: "k1" });
    /** The baseline's loadInput read: 1 MiB SELECT slices, bytea as hex text. */
    const loadBySelect = async (scanId: string) => {
      const { rows } = await pgPool.query<{ ownerId: string; bytes: number }>(
        `SELECT "ownerId", octet_length(content)::int AS bytes FROM "ScanInput" WHERE "scanId" = $1::uuid AND ordinal = 0`,
        [scanId],
      );
      const out = Buffer.allocUnsafe(rows[0]!.bytes);
      for (let at = 0; at < out.length; at += 1024 * 1024) {
        const slice = await pgPool.query<{ part: Buffer }>(
          `SELECT substring(content FROM $3::int FOR $4::int) AS part FROM "ScanInput" WHERE "scanId" = $1::uuid AND ordinal = 0 AND "ownerId" = $2`,
          [scanId, rows[0]!.ownerId, at + 1, 1024 * 1024],
        );
        slice.rows[0]!.part.copy(out, at);
      }
      return out;
    };
    const dbResults: Record<string, number[]> = { "admit, baseline seal": [], "admit, now": [], "load, SELECT hex slices (baseline)": [], "load, binary COPY (now)": [] };
    const ids: string[] = [];
    for (let r = 0; r < rounds + 1; r++) {
      for (const [name, seal] of [["admit, baseline seal", mainThreadSeal], ["admit, now", box.seal]] as const) {
        let id = "";
        const ms = await mainThreadMs(async () => {
          const res = await admit(seal);
          if (!res.ok) throw new Error("not admitted");
          id = res.scan.id;
        });
        if (r > 0) dbResults[name]!.push(ms);
        ids.push(id);
      }
      const id = ids.at(-1)!;
      let a: Buffer | null = null;
      let b: Uint8Array | null = null;
      const msA = await mainThreadMs(async () => (a = await loadBySelect(id)));
      const msB = await mainThreadMs(async () => (b = (await workers.loadInput(id, 0))!.content));
      if (!a || !b || !Buffer.from(b).equals(a)) throw new Error("the two reads differ");
      if (r > 0) {
        dbResults["load, SELECT hex slices (baseline)"]!.push(msA);
        dbResults["load, binary COPY (now)"]!.push(msB);
      }
    }
    for (const [name, xs] of Object.entries(dbResults)) results[name] = xs;
  } finally {
    await prisma.$disconnect();
    await pgPool.end();
    await db.drop();
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(`input box, ${(bytes / 1024 / 1024).toFixed(0)} MiB input, ${rounds} rounds (cpus ${os.availableParallelism()}, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`);
console.log("main-thread ms: median (min)   wall ms: median");
for (const [name, xs] of Object.entries(results)) {
  const w = wall[name];
  console.log(`  ${name.padEnd(36)} ${median(xs).toFixed(1).padStart(6)} (${Math.min(...xs).toFixed(1)})   ${w ? median(w).toFixed(1).padStart(7) : "      -"}`);
}
