/**
 * Issue 12, point 9, on real PostgreSQL: the fingerprint migration on a database that holds
 * sealed connection passwords from before it (rows survive and still open), and the start-up
 * key check against that data.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { checkKeyring, keyFingerprint, KeyringMismatchError, PgKeyCheckStore } from "../../../src/platform/crypto/key-check.js";
import { open, parseEncryptionKeys, seal } from "../../../src/platform/crypto/secret-box.js";
import { applyMigrations } from "../../../src/platform/db/migrate.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import type { TestDatabase } from "../../support/database.js";
import { databaseBefore } from "../../support/migrations.js";

const MIGRATION = "20261201093700_encryption_key_fingerprint";
const A = randomBytes(32).toString("base64");
const B = randomBytes(32).toString("base64");
const databases: TestDatabase[] = [];
let pool: pg.Pool | null = null;
afterAll(async () => {
  await pool?.end();
  await Promise.all(databases.map((db) => db.drop()));
});

it("keeps older sealed passwords, then refuses a key that cannot open them and accepts rotation", async () => {
  // The migrations before this one, as an older release had them.
  const db = await databaseBefore(MIGRATION);
  databases.push(db);
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  expect((await pool.query(`select to_regclass('"EncryptionKeyFingerprint"') as t`)).rows[0].t).toBeNull();

  // An older release's row: a password sealed with key A (id k1), bound to its owner and row.
  const ringA = parseEncryptionKeys(`k1:${A}`);
  const rowId = "00000000-0000-4000-8000-0000000000c1";
  const context = { ownerId: "alice", rowId, purpose: "db-password" };
  const sealed = seal(ringA, "s3cret-pw", context);
  await pool.query(`insert into "User" (id) values ('alice')`);
  await pool.query(`insert into "Session" (id, "ownerId", name, "expiresAt") values ('00000000-0000-4000-8000-000000000001', 'alice', 'HR', now() + interval '1 day')`);
  await pool.query(
    `insert into "DatabaseConnection" (id, "ownerId", "sessionId", name, engine, host, port, database, "user", "passwordCiphertext", "keyId")
     values ($1, 'alice', '00000000-0000-4000-8000-000000000001', 'crm', 'POSTGRESQL', 'db.example.com', 5432, 'crm', 'reader', $2, 'k1')`,
    [rowId, sealed.ciphertext],
  );
  const before = (await pool.query(`select * from "DatabaseConnection"`)).rows;

  const { applied } = await applyMigrations(db.url, silentLogger);
  expect(applied).toContain(MIGRATION);
  const after = (await pool.query(`select * from "DatabaseConnection"`)).rows;
  expect(after).toEqual(before);
  expect(open(ringA, { keyId: "k1", ciphertext: after[0].passwordCiphertext as Buffer }, context)).toBe("s3cret-pw");

  const store = new PgKeyCheckStore(pool, [{ table: "DatabaseConnection", ciphertext: "passwordCiphertext", purpose: "db-password" }]);
  expect(await store.samples()).toEqual([{ keyId: "k1", count: 1, ciphertext: sealed.ciphertext, context }]);

  // No fingerprint yet: another key under the same id is caught by opening the stored password.
  await expect(checkKeyring(parseEncryptionKeys(`k1:${B}`), store)).rejects.toBeInstanceOf(KeyringMismatchError);
  expect((await pool.query(`select count(*)::int as n from "EncryptionKeyFingerprint"`)).rows[0].n).toBe(0);

  // The right key records its fingerprint (never the key).
  expect(await checkKeyring(ringA, store)).toEqual({ recorded: ["k1"], retired: [] });
  const stored = (await pool.query(`select "keyId", fingerprint from "EncryptionKeyFingerprint"`)).rows;
  expect(stored).toEqual([{ keyId: "k1", fingerprint: keyFingerprint(Buffer.from(A, "base64")) }]);
  expect(JSON.stringify(stored)).not.toContain(A);
  expect(JSON.stringify(stored)).not.toContain(Buffer.from(A, "base64").toString("hex"));

  // Wrong key: refused by fingerprint; missing key: refused by the stored data; rotation: accepted.
  await expect(checkKeyring(parseEncryptionKeys(`k1:${B}`), store)).rejects.toThrow(/^ENCRYPTION_KEY does not match/);
  await expect(checkKeyring(parseEncryptionKeys(`k2:${B}`), store)).rejects.toThrow(/^ENCRYPTION_KEY cannot read .* sealed with key "k1"/);
  expect(await checkKeyring(parseEncryptionKeys(`k2:${B},k1:${A}`), store)).toEqual({ recorded: ["k2"], retired: [] });
}, 120_000);
