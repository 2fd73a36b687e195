import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  DecryptError,
  deriveKey,
  loadKeyring,
  needsRotation,
  open,
  parseEncryptionKeys,
  seal,
  type Keyring,
  type SealContext,
} from "../../../src/platform/crypto/secret-box.js";

const key1 = randomBytes(32);
const key2 = randomBytes(32);
const ring1 = parseEncryptionKeys(`k1:${key1.toString("base64")}`);
const ring21 = parseEncryptionKeys(`k2:${key2.toString("base64")},k1:${key1.toString("base64")}`);
const rowA: SealContext = { ownerId: "alice", rowId: "conn-a", purpose: "db-password" };
const rowB: SealContext = { ownerId: "alice", rowId: "conn-b", purpose: "db-password" };

function expectDecryptError(fn: () => unknown, reason?: DecryptError["reason"]): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DecryptError);
  if (reason) expect((error as DecryptError).reason).toBe(reason);
}

function flipBit(buffer: Buffer, index: number, bit = 0): Buffer {
  const copy = Buffer.from(buffer);
  copy[index]! ^= 1 << bit;
  return copy;
}

describe("seal / open", () => {
  it("round-trips, with a fresh nonce every time", () => {
    const a = seal(ring1, "s3cr3t p@ss – ünïcødé 🔑", rowA);
    const b = seal(ring1, "s3cr3t p@ss – ünïcødé 🔑", rowA);
    expect(a.keyId).toBe("k1");
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.ciphertext[0]).toBe(1);
    expect(a.ciphertext.length).toBe(1 + 12 + Buffer.byteLength("s3cr3t p@ss – ünïcødé 🔑") + 16);
    expect(a.ciphertext.includes(Buffer.from("s3cr3t"))).toBe(false);
    expect(open(ring1, a, rowA)).toBe("s3cr3t p@ss – ünïcødé 🔑");
    expect(open(ring1, b, { ...rowA })).toBe("s3cr3t p@ss – ünïcødé 🔑");
  });

  it("round-trips the empty string", () => {
    expect(open(ring1, seal(ring1, "", rowA), rowA)).toBe("");
  });

  it("refuses plaintext with lone surrogates instead of corrupting it", () => {
    expect(() => seal(ring1, "abc\uD800def", rowA)).toThrow(/well-formed/);
  });

  it("refuses an empty owner, row or purpose", () => {
    expect(() => seal(ring1, "x", { ...rowA, ownerId: "" })).toThrow(/ownerId/);
    expect(() => seal(ring1, "x", { ...rowA, rowId: "" })).toThrow(/rowId/);
    expect(() => seal(ring1, "x", { ...rowA, purpose: "" })).toThrow(/purpose/);
  });

  describe("tampering", () => {
    const sealed = seal(ring1, "hunter2-hunter2", rowA);
    const len = sealed.ciphertext.length;

    it.each([
      ["version byte", 0],
      ["first nonce byte", 1],
      ["last nonce byte", 12],
      ["first ciphertext byte", 13],
      ["last ciphertext byte", len - 17],
      ["first tag byte", len - 16],
      ["last tag byte", len - 1],
    ])("a flipped bit in the %s fails", (_name, index) => {
      expectDecryptError(() => open(ring1, { ...sealed, ciphertext: flipBit(sealed.ciphertext, index, 7) }, rowA));
    });

    it.each([
      ["one tag byte dropped", len - 1],
      ["four tag bytes dropped", len - 4],
      ["the whole tag dropped", len - 16],
      ["everything but the version byte", 1],
      ["everything", 0],
    ])("truncation (%s) fails", (_name, keep) => {
      expectDecryptError(() => open(ring1, { ...sealed, ciphertext: sealed.ciphertext.subarray(0, keep) }, rowA));
    });

    it("an appended byte fails", () => {
      expectDecryptError(() => open(ring1, { ...sealed, ciphertext: Buffer.concat([sealed.ciphertext, Buffer.from([0])]) }, rowA));
    });
  });

  describe("swapped ciphertexts", () => {
    const sealedA = seal(ring1, "password-of-a", rowA);

    it.each([
      ["another row", rowB],
      ["another owner", { ...rowA, ownerId: "mallory" }],
      ["another purpose", { ...rowA, purpose: "api-token" }],
      ["fields shifted across the boundary", { ownerId: "alicec", rowId: "onn-a", purpose: "db-password" }],
    ])("row A's ciphertext does not open as %s", (_name, context) => {
      expectDecryptError(() => open(ring1, sealedA, context), "authentication");
    });

    it("row A's ciphertext does not open under another key id, even with the same key bytes", () => {
      const aliased: Keyring = { currentKeyId: "k1", keys: new Map([["k1", key1], ["k9", key1]]) };
      expect(open(aliased, sealedA, rowA)).toBe("password-of-a");
      expectDecryptError(() => open(aliased, { ...sealedA, keyId: "k9" }, rowA), "authentication");
    });

    it("an unknown key id fails", () => {
      expectDecryptError(() => open(ring1, { ...sealedA, keyId: "k7" }, rowA), "unknown-key");
    });

    it("another key fails", () => {
      const other = parseEncryptionKeys(randomBytes(32).toString("hex"));
      expectDecryptError(() => open(other, sealedA, rowA), "authentication");
    });
  });

  it("property: open(seal(x)) === x for arbitrary unicode", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), fc.string({ minLength: 1 }), (plaintext, rowId) => {
        const context = { ...rowA, rowId };
        expect(open(ring21, seal(ring21, plaintext, context), context)).toBe(plaintext);
      }),
      { numRuns: 500 },
    );
  });

  it("property: any single-byte mutation fails", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (plaintext, position, xor) => {
          const sealed = seal(ring1, plaintext, rowA);
          const mutated = Buffer.from(sealed.ciphertext);
          const index = position % mutated.length;
          mutated[index]! ^= xor;
          expectDecryptError(() => open(ring1, { ...sealed, ciphertext: mutated }, rowA));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("rotation", () => {
  it("opens rows sealed with the old key, flags them, and seals new rows with the current key", () => {
    const old = seal(ring1, "legacy", rowA);
    expect(old.keyId).toBe("k1");
    expect(needsRotation(ring1, old.keyId)).toBe(false);

    expect(ring21.currentKeyId).toBe("k2");
    expect(open(ring21, old, rowA)).toBe("legacy");
    expect(needsRotation(ring21, old.keyId)).toBe(true);

    const fresh = seal(ring21, "legacy", rowA);
    expect(fresh.keyId).toBe("k2");
    expect(needsRotation(ring21, fresh.keyId)).toBe(false);
    expect(open(ring21, fresh, rowA)).toBe("legacy");
    expectDecryptError(() => open(ring1, fresh, rowA), "unknown-key");
  });
});

describe("deriveKey", () => {
  it("is deterministic, 32 bytes, separated by purpose and key, and not the raw key", () => {
    const a = deriveKey(ring1, "finding-hash");
    expect(a.length).toBe(32);
    expect(deriveKey(ring1, "finding-hash").equals(a)).toBe(true);
    expect(deriveKey(ring1, "other").equals(a)).toBe(false);
    expect(a.equals(key1)).toBe(false);
    expect(deriveKey(ring21, "finding-hash").equals(a)).toBe(false);
    expect(deriveKey(ring21, "finding-hash", "k1").equals(a)).toBe(true);
    expect(() => deriveKey(ring1, "")).toThrow();
    expect(() => deriveKey(ring1, "x", "nope")).toThrow(/nope/);
  });
});

describe("parseEncryptionKeys", () => {
  it.each([
    ["base64", key1.toString("base64")],
    ["base64url", key1.toString("base64url")],
    ["hex", key1.toString("hex")],
    ["hex (upper case)", key1.toString("hex").toUpperCase()],
    ["padded with whitespace", `  ${key1.toString("base64")}\n`],
  ])("a single %s key gets id k1", (_name, value) => {
    const ring = parseEncryptionKeys(value);
    expect(ring.currentKeyId).toBe("k1");
    expect([...ring.keys.keys()]).toEqual(["k1"]);
    expect(ring.keys.get("k1")!.equals(key1)).toBe(true);
  });

  it("a list: the first is current, all are kept", () => {
    const ring = parseEncryptionKeys(`k3:${key2.toString("hex")}, k1:${key1.toString("base64")}`);
    expect(ring.currentKeyId).toBe("k3");
    expect(ring.keys.get("k3")!.equals(key2)).toBe(true);
    expect(ring.keys.get("k1")!.equals(key1)).toBe(true);
  });

  const b64 = key1.toString("base64");
  it.each([
    ["empty", ""],
    ["too short (16 bytes)", randomBytes(16).toString("base64")],
    ["too long (48 bytes)", randomBytes(48).toString("base64")],
    ["hex of 31 bytes", randomBytes(31).toString("hex")],
    ["not base64", "this is not a key at all!"],
    ["entry without id", `k2:${b64},${b64}`],
    ["empty id", `:${b64}`],
    ["bad id", `k 2:${b64}`],
    ["duplicate id", `k1:${b64},k1:${key2.toString("base64")}`],
    ["bad key in list", `k2:${b64},k1:short`],
  ])("refuses %s with an error naming ENCRYPTION_KEY and not echoing the key", (_name, value) => {
    let message = "";
    try {
      parseEncryptionKeys(value);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/ENCRYPTION_KEY/);
    expect(message).not.toContain(b64);
  });
});

describe("loadKeyring", () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "dg-keyring-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("generates a key once under DATA_DIR and reuses it", async () => {
    const dataDir = await tempDir();
    const first = await loadKeyring({ dataDir });
    expect(first.currentKeyId).toBe("k1");
    expect(first.keys.get("k1")!.length).toBe(32);
    const file = join(dataDir, "secrets", "encryption-key");
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = await loadKeyring({ dataDir });
    expect(second.keys.get("k1")!.equals(first.keys.get("k1")!)).toBe(true);
    const sealed = seal(first, "pw", rowA);
    expect(open(second, sealed, rowA)).toBe("pw");

    // The documented migration: the generated key becomes an old key in ENCRYPTION_KEY.
    const generated = (await readFile(file, "utf8")).trim();
    const configured = await loadKeyring({ dataDir, encryptionKey: `k2:${key2.toString("base64")},k1:${generated}` });
    expect(open(configured, sealed, rowA)).toBe("pw");
  });

  it("uses ENCRYPTION_KEY when set and writes nothing", async () => {
    const dataDir = await tempDir();
    const ring = await loadKeyring({ dataDir, encryptionKey: key1.toString("base64") });
    expect(ring.keys.get("k1")!.equals(key1)).toBe(true);
    await expect(stat(join(dataDir, "secrets"))).rejects.toThrow();
  });

  it("refuses an empty ENCRYPTION_KEY rather than silently generating one", async () => {
    await expect(loadKeyring({ dataDir: await tempDir(), encryptionKey: " " })).rejects.toThrow(/ENCRYPTION_KEY/);
  });
});
