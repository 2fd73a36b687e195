import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkKeyring, keyFingerprint, KeyringMismatchError, type KeyCheckStore, type SealedSample } from "../../../src/platform/crypto/key-check.js";
import { parseEncryptionKeys, seal, type Keyring } from "../../../src/platform/crypto/secret-box.js";

/** Issue 12, point 9: a keyring that cannot read what is stored is refused at start-up. */

const A = randomBytes(32).toString("base64");
const B = randomBytes(32).toString("base64");
const C = randomBytes(32).toString("base64");

class MemoryStore implements KeyCheckStore {
  readonly rows = new Map<string, string>();
  sealed: SealedSample[] = [];
  async fingerprints() {
    return new Map(this.rows);
  }
  async record(keyId: string, fingerprint: string) {
    if (!this.rows.has(keyId)) this.rows.set(keyId, fingerprint);
  }
  async samples() {
    return this.sealed;
  }
  sealWith(keyring: Keyring, n = 1) {
    const context = { ownerId: "alice", rowId: `row-${this.sealed.length}`, purpose: "db-password" };
    const s = seal(keyring, "hunter2", context);
    this.sealed.push({ keyId: s.keyId, count: n, ciphertext: s.ciphertext, context });
  }
}

const refusal = async (p: Promise<unknown>) => {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(KeyringMismatchError);
  const message = (e as Error).message;
  expect(message).toMatch(/^ENCRYPTION_KEY /);
  expect(message).not.toContain("\n");
  for (const key of [A, B, C]) expect(message).not.toContain(key);
  return message;
};

describe("keyFingerprint", () => {
  it("identifies a key without containing it, and differs between keys", () => {
    const key = Buffer.from(A, "base64");
    const fp = keyFingerprint(key);
    expect(fp).toMatch(/^v1:[A-Za-z0-9_-]{43}$/);
    expect(fp).toBe(keyFingerprint(Buffer.from(A, "base64")));
    expect(fp).not.toBe(keyFingerprint(Buffer.from(B, "base64")));
    expect(fp).not.toContain(key.toString("base64url"));
    expect(fp).not.toContain(key.toString("hex"));
  });
});

describe("checkKeyring", () => {
  it("records the fingerprints of a fresh database, then accepts the same key", async () => {
    const store = new MemoryStore();
    expect(await checkKeyring(parseEncryptionKeys(`k1:${A}`), store)).toEqual({ recorded: ["k1"], retired: [] });
    expect(store.rows.get("k1")).toBe(keyFingerprint(Buffer.from(A, "base64")));
    expect(await checkKeyring(parseEncryptionKeys(`k1:${A}`), store)).toEqual({ recorded: [], retired: [] });
  });

  it("refuses another key under the same id, even before any secret is stored", async () => {
    const store = new MemoryStore();
    await checkKeyring(parseEncryptionKeys(`k1:${A}`), store);
    const message = await refusal(checkKeyring(parseEncryptionKeys(`k1:${B}`), store));
    expect(message).toContain('key id "k1"');
    // Nothing was overwritten.
    expect(store.rows.get("k1")).toBe(keyFingerprint(Buffer.from(A, "base64")));
  });

  it("refuses a ring that lacks a key stored secrets are sealed with, naming it and the count", async () => {
    const store = new MemoryStore();
    store.sealWith(parseEncryptionKeys(`k1:${A}`), 3);
    await checkKeyring(parseEncryptionKeys(`k1:${A}`), store);
    const message = await refusal(checkKeyring(parseEncryptionKeys(`k2:${B}`), store));
    expect(message).toContain('3 are sealed with key "k1"');
  });

  it("checks a database from before fingerprints by opening one sealed value per key", async () => {
    const store = new MemoryStore();
    store.sealWith(parseEncryptionKeys(`k1:${A}`));
    await refusal(checkKeyring(parseEncryptionKeys(`k1:${B}`), store));
    expect(store.rows.size).toBe(0); // a refused ring records nothing
    expect(await checkKeyring(parseEncryptionKeys(`k1:${A}`), store)).toEqual({ recorded: ["k1"], retired: [] });
  });

  it("accepts rotation: a new current key with the old one listed after it", async () => {
    const store = new MemoryStore();
    store.sealWith(parseEncryptionKeys(`k1:${A}`));
    await checkKeyring(parseEncryptionKeys(`k1:${A}`), store);
    expect(await checkKeyring(parseEncryptionKeys(`k2:${B},k1:${A}`), store)).toEqual({ recorded: ["k2"], retired: [] });
    // Once every secret is re-sealed with k2, k1 may leave the ring: its fingerprint is only reported.
    store.sealed = [];
    store.sealWith(parseEncryptionKeys(`k2:${B}`));
    expect(await checkKeyring(parseEncryptionKeys(`k2:${B}`), store)).toEqual({ recorded: [], retired: ["k1"] });
    // A wrong old key in the ring is still caught.
    await refusal(checkKeyring(parseEncryptionKeys(`k3:${C},k1:${B}`), store));
  });

  it("two instances starting together with different keys: the second to record is refused", async () => {
    const store = new MemoryStore();
    const realFingerprints = store.fingerprints.bind(store);
    let calls = 0;
    // Instance A records between instance B's first read and its own record.
    store.fingerprints = async () => {
      const result = await realFingerprints();
      if (++calls === 2) store.rows.set("k1", keyFingerprint(Buffer.from(A, "base64")));
      return result;
    };
    await refusal(checkKeyring(parseEncryptionKeys(`k1:${B}`), store));
  });
});
