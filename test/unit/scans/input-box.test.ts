import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createInputBox, joinSealed, openSealed, type InputPlace } from "../../../src/modules/scans/input-box.js";
import { extractInput } from "../../../src/modules/scans/scanners/extract-input.js";
import { DecryptError, parseEncryptionKeys } from "../../../src/platform/crypto/secret-box.js";

const k1 = randomBytes(32).toString("base64");
const k2 = randomBytes(32).toString("base64");
const place = { ownerId: "alice", scanId: "00000000-0000-4000-8000-000000000001", ordinal: 0 };
const bytes = new Uint8Array(Buffer.from("%PDF- BSN 123456782 jan@voorbeeld.nl \u0000\u00ff binary"));

/** Opens as the extraction thread does: with the key the worker hands it for that row. */
const open = (keyring: string, at: InputPlace, stored: Uint8Array, keyId = "k1") =>
  Buffer.from(openSealed(createInputBox(parseEncryptionKeys(keyring)).keyFor(at, keyId), stored));

describe("input box (queued inputs sealed at rest)", () => {
  it("round-trips bytes; the stored form holds none of them in clear", async () => {
    const box = createInputBox(parseEncryptionKeys(`k1:${k1}`));
    const sealed = await box.seal(place, bytes);
    expect(sealed.keyId).toBe("k1");
    const stored = joinSealed(sealed);
    expect(stored.length).toBe(1 + 12 + bytes.length + 16);
    expect(stored.includes(Buffer.from("123456782"))).toBe(false);
    expect(open(`k1:${k1}`, place, stored)).toEqual(Buffer.from(bytes));
    // Two seals of the same bytes differ (a fresh nonce each time).
    expect(joinSealed(await box.seal(place, bytes)).equals(stored)).toBe(false);
  });

  it("seals an empty input (tag only)", async () => {
    const box = createInputBox(parseEncryptionKeys(`k1:${k1}`));
    const stored = joinSealed(await box.seal(place, new Uint8Array(0)));
    expect(stored.length).toBe(1 + 12 + 16);
    expect(open(`k1:${k1}`, place, stored).length).toBe(0);
  });

  it("opens a row sealed by the release before sealing moved off the main thread (format and binding unchanged)", () => {
    // Written by the synchronous createCipheriv seal of commit a4e97be: key 32 x 0x07, owner alice, ordinal 2.
    const keyring = `k1:${Buffer.alloc(32, 7).toString("base64")}`;
    const at = { ownerId: "alice", scanId: "00000000-0000-4000-8000-000000000001", ordinal: 2 };
    const stored = Buffer.from("ASzHgCusz1FwxrdogyVOFTlNd7o7pJKAshqQHnbxYMqUqiBNEssd07u9lrwHnrBrgjmQu49XBc7zibBv", "base64");
    expect(open(keyring, at, stored).toString()).toBe("BSN 123456782\njan@voorbeeld.nl\n");
    expect(() => open(keyring, { ...at, ordinal: 1 }, stored)).toThrow(DecryptError);
  });

  it.each([
    ["another owner", { ...place, ownerId: "bob" }],
    ["another scan", { ...place, scanId: "00000000-0000-4000-8000-000000000002" }],
    ["another ordinal", { ...place, ordinal: 1 }],
  ])("does not open for %s", async (_what, other) => {
    const stored = joinSealed(await createInputBox(parseEncryptionKeys(`k1:${k1}`)).seal(place, bytes));
    expect(() => open(`k1:${k1}`, other, stored)).toThrow(DecryptError);
  });

  it("opens rows of an older key after rotation, and says which key is missing otherwise", async () => {
    const old = joinSealed(await createInputBox(parseEncryptionKeys(`k1:${k1}`)).seal(place, bytes));
    expect(open(`k2:${k2},k1:${k1}`, place, old)).toEqual(Buffer.from(bytes));
    expect(() => createInputBox(parseEncryptionKeys(`k2:${k2}`)).keyFor(place, "k1")).toThrow(/no key "k1"/);
    const tampered = Uint8Array.from(old);
    tampered[20]! ^= 1;
    expect(() => open(`k1:${k1}`, place, tampered)).toThrow(DecryptError);
    expect(() => open(`k1:${k1}`, place, old.subarray(0, 20))).toThrow(/malformed/);
  });

  it("keyFor hands out a copy: the thread wiping it after use leaves the box able to open the next row", async () => {
    const box = createInputBox(parseEncryptionKeys(`k1:${k1}`));
    const text = new Uint8Array(Buffer.from("BSN 123456782\n"));
    const stored = joinSealed(await box.seal(place, text));
    const first = box.keyFor(place, "k1");
    const res = await extractInput({ name: "a.txt", content: Uint8Array.from(stored), sealed: first, mode: "document", maxTextBytes: 1 << 20, chunkBytes: 65536 });
    expect(res.ok).toBe(true);
    expect(first.key.every((b) => b === 0)).toBe(true);
    expect(Buffer.from(openSealed(box.keyFor(place, "k1"), stored))).toEqual(Buffer.from(text));
  });
});

describe("extraction opens a sealed input itself", () => {
  it("extracts the text of a sealed input; one that does not open comes back as unopened, never as text", async () => {
    const box = createInputBox(parseEncryptionKeys(`k1:${k1}`));
    const stored = joinSealed(await box.seal(place, new Uint8Array(Buffer.from("regel\nBSN 123456782\n"))));
    const task = (sealed: ReturnType<typeof box.keyFor> | undefined, content: Uint8Array = Uint8Array.from(stored)) => ({
      name: "a.txt",
      content,
      sealed,
      mode: "document" as const,
      maxTextBytes: 1 << 20,
      chunkBytes: 65536,
    });
    const ok = await extractInput(task(box.keyFor(place, "k1")));
    if (!ok.ok) throw new Error("not extracted");
    expect(Buffer.from(ok.input.text).toString()).toBe("regel\nBSN 123456782\n");
    expect(await extractInput(task(box.keyFor({ ...place, ordinal: 3 }, "k1")))).toEqual({
      ok: false,
      unopened: { reason: "authentication", message: expect.stringMatching(/does not authenticate/) },
    });
    // Without the key, the stored bytes are only ciphertext: nothing readable comes out.
    const clear = await extractInput(task(undefined));
    expect(clear.ok && Buffer.from(clear.input.text).toString().includes("123456782")).toBe(false);
  });
});
