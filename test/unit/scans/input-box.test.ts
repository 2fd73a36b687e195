import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createInputBox } from "../../../src/modules/scans/input-box.js";
import { DecryptError, parseEncryptionKeys } from "../../../src/platform/crypto/secret-box.js";

const k1 = randomBytes(32).toString("base64");
const k2 = randomBytes(32).toString("base64");
const place = { ownerId: "alice", scanId: "00000000-0000-4000-8000-000000000001", ordinal: 0 };
const bytes = new Uint8Array(Buffer.from("%PDF- BSN 123456782 jan@voorbeeld.nl \u0000\u00ff binary"));

describe("input box (queued inputs sealed at rest)", () => {
  it("round-trips bytes; the stored form holds none of them in clear", () => {
    const box = createInputBox(parseEncryptionKeys(`k1:${k1}`));
    const sealed = box.seal(place, bytes);
    expect(sealed.keyId).toBe("k1");
    expect(Buffer.from(sealed.content).includes(Buffer.from("123456782"))).toBe(false);
    expect(Buffer.from(box.open(place, sealed))).toEqual(Buffer.from(bytes));
  });

  it.each([
    ["another owner", { ...place, ownerId: "bob" }],
    ["another scan", { ...place, scanId: "00000000-0000-4000-8000-000000000002" }],
    ["another ordinal", { ...place, ordinal: 1 }],
  ])("does not open for %s", (_what, other) => {
    const box = createInputBox(parseEncryptionKeys(`k1:${k1}`));
    expect(() => box.open(other, box.seal(place, bytes))).toThrow(DecryptError);
  });

  it("opens rows of an older key after rotation, and says which key is missing otherwise", () => {
    const old = createInputBox(parseEncryptionKeys(`k1:${k1}`)).seal(place, bytes);
    expect(Buffer.from(createInputBox(parseEncryptionKeys(`k2:${k2},k1:${k1}`)).open(place, old))).toEqual(Buffer.from(bytes));
    expect(() => createInputBox(parseEncryptionKeys(`k2:${k2}`)).open(place, old)).toThrow(/no key "k1"/);
    const tampered = { ...old, content: Uint8Array.from(old.content) };
    tampered.content[20]! ^= 1;
    expect(() => createInputBox(parseEncryptionKeys(`k1:${k1}`)).open(place, tampered)).toThrow(DecryptError);
  });
});
