import { createHmac, timingSafeEqual } from "node:crypto";
import { DecryptError, open, type Keyring, type SealContext } from "./secret-box.js";

/**
 * Keys that disagree are caught at start-up (issue 12, point 9). Instances sharing a database
 * with different `ENCRYPTION_KEY`s used to start, accept connections, and then fail every
 * database scan. Now each key's fingerprint is stored beside the data (table
 * `EncryptionKeyFingerprint`), and start-up refuses, with one line naming ENCRYPTION_KEY, a
 * keyring that cannot read what is stored:
 *
 * - a key id whose stored fingerprint differs from ours (another instance seals with another key);
 * - a key id that sealed stored secrets but is missing from the ring (removed too early);
 * - a key id with stored secrets but no fingerprint yet (a database from before the check): one
 *   sealed value per key id is opened as a trial.
 *
 * Rotation keeps working: older keys listed after the current one are checked the same way,
 * and a fingerprint left by a key that no longer seals anything is only reported.
 *
 * A fingerprint is HMAC-SHA256 of a fixed label under the key: it identifies the key without
 * revealing it (the key cannot be recovered from it, and a guess can only be checked by
 * someone who already holds a candidate 256-bit key).
 */

const LABEL = "dataguardian/encryption-key-fingerprint/v1";

/** The stored form of a key's fingerprint: `v1:` + base64url(HMAC-SHA256(key, label)). */
export function keyFingerprint(key: Buffer): string {
  return `v1:${createHmac("sha256", key).update(LABEL, "utf8").digest("base64url")}`;
}

/** One sealed value per key id found in stored data, to open as a trial. */
export interface SealedSample {
  keyId: string;
  /** Stored values sealed with this key id (for the message). */
  count: number;
  ciphertext: Buffer;
  context: SealContext;
}

/** Where fingerprints and sealed data live (PostgreSQL in the app, memory in unit tests). */
export interface KeyCheckStore {
  fingerprints(): Promise<Map<string, string>>;
  /** Stores a fingerprint unless one exists for the key id (first writer wins). */
  record(keyId: string, fingerprint: string): Promise<void>;
  samples(): Promise<SealedSample[]>;
}

/** A keyring that cannot read the stored data. The message is one line naming ENCRYPTION_KEY. */
export class KeyringMismatchError extends Error {
  override name = "KeyringMismatchError";
}

export interface KeyCheckResult {
  /** Key ids whose fingerprint this start recorded. */
  recorded: string[];
  /** Key ids with a stored fingerprint that the ring no longer holds (and no stored data needs). */
  retired: string[];
}

/**
 * Checks the keyring against the stored fingerprints and data, then records the fingerprints of
 * its keys that are not stored yet. Throws {@link KeyringMismatchError}.
 */
export async function checkKeyring(keyring: Keyring, store: KeyCheckStore): Promise<KeyCheckResult> {
  const ours = new Map([...keyring.keys].map(([id, key]) => [id, keyFingerprint(key)] as const));
  compareFingerprints(ours, await store.fingerprints());

  const stored = await store.fingerprints();
  for (const sample of await store.samples()) {
    if (!ours.has(sample.keyId)) {
      throw new KeyringMismatchError(
        `ENCRYPTION_KEY cannot read the secrets stored in this database: ${sample.count} are sealed with key "${sample.keyId}", ` +
          `which ENCRYPTION_KEY does not hold; add it after the current key ("<id>:<key>,${sample.keyId}:<that key>")`,
      );
    }
    if (stored.has(sample.keyId)) continue; // compared above
    try {
      open(keyring, { keyId: sample.keyId, ciphertext: sample.ciphertext }, sample.context);
    } catch (err) {
      if (!(err instanceof DecryptError)) throw err;
      throw mismatch(sample.keyId);
    }
  }

  const recorded: string[] = [];
  for (const [id, fingerprint] of ours) {
    if (stored.has(id)) continue;
    await store.record(id, fingerprint);
    recorded.push(id);
  }
  // Two instances starting together with different keys: the first record wins, the other
  // one sees a different fingerprint here.
  const after = recorded.length > 0 ? await store.fingerprints() : stored;
  compareFingerprints(ours, after);
  return { recorded, retired: [...after.keys()].filter((id) => !ours.has(id)) };
}

function compareFingerprints(ours: Map<string, string>, stored: Map<string, string>): void {
  for (const [id, fingerprint] of ours) {
    const theirs = stored.get(id);
    if (theirs !== undefined && !sameText(theirs, fingerprint)) throw mismatch(id);
  }
}

function mismatch(keyId: string): KeyringMismatchError {
  return new KeyringMismatchError(
    `ENCRYPTION_KEY does not match the key that sealed the secrets stored in this database (key id "${keyId}": fingerprints differ); ` +
      `give every instance sharing this database the same ENCRYPTION_KEY`,
  );
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A table column holding values sealed by secret-box, and how their context is built. */
export interface SealedColumn {
  /** Table name, e.g. "DatabaseConnection" (a fixed identifier from code, never input). */
  table: string;
  /** Column with the sealed bytes, e.g. "passwordCiphertext". */
  ciphertext: string;
  /** secret-box purpose the column's values were sealed for. */
  purpose: string;
}

/** The part of a pg.Pool the store uses. */
export interface Queryable {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/**
 * The PostgreSQL store: fingerprints in `EncryptionKeyFingerprint`, samples from the sealed
 * columns (each row has `id`, `ownerId` and `keyId`, the secret-box context of its value).
 */
export class PgKeyCheckStore implements KeyCheckStore {
  constructor(
    private readonly db: Queryable,
    private readonly columns: SealedColumn[],
  ) {
    for (const c of columns) {
      if (!IDENTIFIER.test(c.table) || !IDENTIFIER.test(c.ciphertext)) throw new Error(`key check: "${c.table}"."${c.ciphertext}" is not a plain identifier`);
    }
  }

  async fingerprints(): Promise<Map<string, string>> {
    const { rows } = await this.db.query<{ keyId: string; fingerprint: string }>(`SELECT "keyId", fingerprint FROM "EncryptionKeyFingerprint"`);
    return new Map(rows.map((r) => [r.keyId, r.fingerprint]));
  }

  async record(keyId: string, fingerprint: string): Promise<void> {
    await this.db.query(`INSERT INTO "EncryptionKeyFingerprint" ("keyId", fingerprint) VALUES ($1, $2) ON CONFLICT ("keyId") DO NOTHING`, [keyId, fingerprint]);
  }

  async samples(): Promise<SealedSample[]> {
    const out: SealedSample[] = [];
    for (const c of this.columns) {
      // Key ids with their counts (one hash aggregate over the table, no sort), then one row each.
      const { rows: keys } = await this.db.query<{ keyId: string; count: string }>(
        `SELECT "keyId", count(*) AS count FROM "${c.table}" GROUP BY "keyId" ORDER BY "keyId"`,
      );
      for (const k of keys) {
        const { rows } = await this.db.query<{ id: string; ownerId: string; sealed: Buffer }>(
          `SELECT id::text AS id, "ownerId", "${c.ciphertext}" AS sealed FROM "${c.table}" WHERE "keyId" = $1 LIMIT 1`,
          [k.keyId],
        );
        const r = rows[0];
        if (r) out.push({ keyId: k.keyId, count: Number(k.count), ciphertext: r.sealed, context: { ownerId: r.ownerId, rowId: r.id, purpose: c.purpose } });
      }
    }
    return out;
  }
}
