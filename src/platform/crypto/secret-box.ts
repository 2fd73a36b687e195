import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { loadOrCreateSecret } from "../auth/secret-store.js";

/**
 * AES-256-GCM for secrets at rest (database passwords).
 *
 * Sealed format: `version (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)`.
 * The associated data binds a ciphertext to its key id, format version, owner, row and
 * purpose, so a ciphertext copied to another row or another owner does not open.
 * Nonces are random: fine for far fewer than 2^32 seals per key.
 */

/** `keys` maps key id → 32-byte key; `currentKeyId` seals, every key opens. */
export interface Keyring {
  currentKeyId: string;
  keys: Map<string, Buffer>;
}

/** Where a sealed value belongs; every field must be non-empty and the same when opening. */
export interface SealContext {
  ownerId: string;
  rowId: string;
  purpose: string;
}

export interface Sealed {
  ciphertext: Buffer;
  keyId: string;
}

export type DecryptFailure = "unknown-key" | "malformed" | "authentication";

/** A sealed value that cannot be opened: unknown key, wrong format, tampered or wrong context. */
export class DecryptError extends Error {
  override name = "DecryptError";
  constructor(
    public reason: DecryptFailure,
    message: string,
  ) {
    super(message);
  }
}

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const HEADER_BYTES = 1 + NONCE_BYTES;
const AAD_LABEL = "dataguardian/secret-box";
const HKDF_SALT = Buffer.from("dataguardian/secret-box/hkdf/v1", "utf8");
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Parses `ENCRYPTION_KEY`: `"k2:<key>,k1:<old key>"` (the first is current, the others only
 * open older rows) or one bare key (id `k1`). Keys are 32 bytes in base64, base64url or hex.
 * Errors name the variable but never echo a key.
 */
export function parseEncryptionKeys(value: string): Keyring {
  const text = value.trim();
  if (text.length === 0) throw new Error("ENCRYPTION_KEY is empty");
  const keys = new Map<string, Buffer>();
  if (!text.includes(":")) {
    keys.set("k1", decodeKey(text, "ENCRYPTION_KEY"));
    return { currentKeyId: "k1", keys };
  }
  const parts = text.split(",").map((part) => part.trim());
  for (const [index, part] of parts.entries()) {
    const where = `ENCRYPTION_KEY entry ${index + 1}`;
    const colon = part.indexOf(":");
    if (colon < 0) throw new Error(`${where}: expected "<id>:<key>" (for example "k2:<base64 key>,k1:<old key>")`);
    const id = part.slice(0, colon);
    if (!KEY_ID.test(id)) throw new Error(`${where}: key id must be 1-32 characters of A-Z a-z 0-9 _ -`);
    if (keys.has(id)) throw new Error(`${where}: key id "${id}" appears twice`);
    keys.set(id, decodeKey(part.slice(colon + 1), `${where} ("${id}")`));
  }
  return { currentKeyId: parts[0]!.slice(0, parts[0]!.indexOf(":")), keys };
}

function decodeKey(text: string, where: string): Buffer {
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, "hex");
  else if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) key = Buffer.from(text, "base64");
  else if (/^[A-Za-z0-9_-]+$/.test(text)) key = Buffer.from(text, "base64url");
  if (!key) throw new Error(`${where}: key is not base64 or hex`);
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `${where}: key must be ${KEY_BYTES} bytes (44 base64 or 64 hex characters), got ${key.length} bytes ` +
        `(generate one with: openssl rand -base64 32)`,
    );
  }
  return key;
}

/**
 * The keyring from `ENCRYPTION_KEY`, or a key generated once and kept under
 * `<dataDir>/secrets/encryption-key` (id `k1`). To move from the generated key to a configured
 * one, list it as an old key: `ENCRYPTION_KEY="k2:<new>,k1:<content of that file>"`.
 */
export async function loadKeyring(opts: { encryptionKey?: string; dataDir: string }): Promise<Keyring> {
  if (opts.encryptionKey !== undefined) {
    // An empty value is more likely a missing secret in deployment than a wish for a generated key.
    if (opts.encryptionKey.trim() === "") throw new Error("ENCRYPTION_KEY is set but empty; unset it to use a generated key");
    return parseEncryptionKeys(opts.encryptionKey);
  }
  const generated = await loadOrCreateSecret(opts.dataDir, "encryption-key", KEY_BYTES);
  return parseEncryptionKeys(generated);
}

export function seal(keyring: Keyring, plaintext: string, aad: SealContext): Sealed {
  if (typeof plaintext !== "string") throw new TypeError("seal: plaintext must be a string");
  // Lone surrogates would be replaced by U+FFFD in UTF-8 and not round-trip.
  if (/\p{Cs}/u.test(plaintext)) throw new TypeError("seal: plaintext is not well-formed Unicode");
  const keyId = keyring.currentKeyId;
  const key = keyFor(keyring, keyId);
  if (!key) throw new Error(`seal: the keyring has no current key "${keyId}"`);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(keyId, aad));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { ciphertext: Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]), keyId };
}

export function open(keyring: Keyring, sealed: Sealed, aad: SealContext): string {
  const key = keyFor(keyring, sealed.keyId);
  if (!key) throw new DecryptError("unknown-key", `no key "${sealed.keyId}" in the keyring (was it removed from ENCRYPTION_KEY?)`);
  const data = sealed.ciphertext;
  if (!((data as unknown) instanceof Uint8Array)) throw new DecryptError("malformed", "ciphertext is not binary");
  if (data.length < HEADER_BYTES + TAG_BYTES) throw new DecryptError("malformed", "ciphertext is truncated");
  if (data[0] !== VERSION) throw new DecryptError("malformed", `unknown ciphertext version ${data[0]}`);
  let context: Buffer;
  try {
    context = associatedData(sealed.keyId, aad);
  } catch {
    throw new DecryptError("malformed", "invalid decryption context");
  }
  const nonce = data.subarray(1, HEADER_BYTES);
  const body = data.subarray(HEADER_BYTES, data.length - TAG_BYTES);
  const tag = data.subarray(data.length - TAG_BYTES);
  try {
    // authTagLength pins the tag size: without it Node accepts a shortened tag.
    const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(context);
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(body), decipher.final()]);
    return plain.toString("utf8");
  } catch {
    throw new DecryptError("authentication", "ciphertext does not authenticate (tampered, or another row's)");
  }
}

/** True when the row was sealed with an older key and should be re-sealed with the current one. */
export function needsRotation(keyring: Keyring, keyId: string): boolean {
  return keyId !== keyring.currentKeyId;
}

/**
 * A 32-byte HKDF-SHA256 sub-key for `purpose` (e.g. "finding-hash"), independent of the
 * sealing key and of every other purpose.
 * @default keyId the current key. Pass a row's key id to recompute values made before a rotation.
 */
export function deriveKey(keyring: Keyring, purpose: string, keyId: string = keyring.currentKeyId): Buffer {
  if (!purpose) throw new TypeError("deriveKey: purpose must be non-empty");
  const key = keyFor(keyring, keyId);
  if (!key) throw new Error(`deriveKey: no key "${keyId}" in the keyring`);
  return Buffer.from(hkdfSync("sha256", key, HKDF_SALT, Buffer.from(`purpose:${purpose}`, "utf8"), KEY_BYTES));
}

function keyFor(keyring: Keyring, keyId: string): Buffer | undefined {
  const key = keyring.keys.get(keyId);
  return key && key.length === KEY_BYTES ? key : undefined;
}

/** Length-prefixed fields, so ("ab","c") and ("a","bc") can never produce the same bytes. */
function associatedData(keyId: string, aad: SealContext): Buffer {
  const fields = [AAD_LABEL, String(VERSION), keyId, aad.ownerId, aad.rowId, aad.purpose];
  for (const [name, value] of [["ownerId", aad.ownerId], ["rowId", aad.rowId], ["purpose", aad.purpose]] as const) {
    if (typeof value !== "string" || value.length === 0) throw new TypeError(`secret-box: ${name} must be a non-empty string`);
  }
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = Buffer.from(field, "utf8");
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}
