/**
 * Queued document and code content at rest (issue 12 point 6): sealed with AES-256-GCM under
 * a sub-key of the same keyring as connection passwords (`ENCRYPTION_KEY`, key ids, rotation;
 * secret-box.ts), bound to its owner, scan and ordinal as associated data, so a row copied
 * elsewhere does not open. Bytes in, bytes out (documents are binary; secret-box seals text).
 *
 * Sealed format: `version (1) | nonce (12) | ciphertext | tag (16)`, as secret-box.
 *
 * Neither side runs the cipher on the API's main thread (DESIGN.md, resource isolation):
 * - sealing (admission) goes through WebCrypto (`crypto.subtle`), whose AES-GCM runs on
 *   libuv's thread pool; the main thread only copies the bytes in. Its output is already
 *   `ciphertext | tag`, so the 13-byte head is kept apart and joined by PostgreSQL on insert
 *   (scan-owner.repo.ts), never copied again here.
 * - opening happens in the extraction thread (extract-input.ts): the worker hands it the
 *   still-sealed bytes with an {@link InputKey} (the sub-key of that row's key id and its
 *   associated data), and {@link openSealed} runs there.
 */
import { createDecipheriv, randomBytes, webcrypto } from "node:crypto";
import { DecryptError, deriveKey, type Keyring } from "../../platform/crypto/secret-box.js";

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEAD_BYTES = 1 + NONCE_BYTES;
const PURPOSE = "scan-input";

export interface InputPlace {
  ownerId: string;
  scanId: string;
  ordinal: number;
}

/** A sealed input as stored: `head` (version and nonce) then `body` (ciphertext and tag). */
export interface SealedInput {
  head: Uint8Array;
  body: Uint8Array;
  keyId: string;
}

/**
 * What a thread needs to open one stored input: the AES key of its key id (a fresh copy,
 * which the thread wipes after use) and the associated data of its place. Secret: it goes to
 * the extraction thread inside the task and nowhere else (never logged, never in an error).
 */
export interface InputKey {
  key: Uint8Array;
  aad: Uint8Array;
}

export interface InputBox {
  /** Seals off the main thread (WebCrypto on libuv's pool). */
  seal(place: InputPlace, content: Uint8Array): Promise<SealedInput>;
  /** The key to open a row sealed under `keyId`; throws DecryptError("unknown-key") when it is gone. */
  keyFor(place: InputPlace, keyId: string): InputKey;
}

const aad = (keyId: string, p: InputPlace): Buffer =>
  Buffer.from(`dataguardian/scan-input|v${VERSION}|${keyId}|${p.ownerId}|${p.scanId}|${p.ordinal}`, "utf8");

export function createInputBox(keyring: Keyring): InputBox {
  // Sub-keys per key id, derived once (HKDF), never the connection passwords' key itself.
  const keys = new Map<string, Buffer>();
  const subKey = (keyId: string): Buffer | null => {
    let k = keys.get(keyId);
    if (!k) {
      if (!keyring.keys.has(keyId)) return null;
      k = deriveKey(keyring, PURPOSE, keyId);
      keys.set(keyId, k);
    }
    return k;
  };
  const cryptoKeys = new Map<string, Promise<webcrypto.CryptoKey>>();
  const sealingKey = (keyId: string): Promise<webcrypto.CryptoKey> => {
    let k = cryptoKeys.get(keyId);
    if (!k) {
      const raw = subKey(keyId);
      if (!raw) throw new Error(`seal: the keyring has no current key "${keyId}"`);
      k = webcrypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt"]);
      cryptoKeys.set(keyId, k);
    }
    return k;
  };
  return {
    async seal(place, content) {
      const keyId = keyring.currentKeyId;
      const key = await sealingKey(keyId);
      const head = Buffer.allocUnsafe(HEAD_BYTES);
      head[0] = VERSION;
      randomBytes(NONCE_BYTES).copy(head, 1);
      const body = await webcrypto.subtle.encrypt(
        { name: "AES-GCM", iv: head.subarray(1), additionalData: aad(keyId, place), tagLength: TAG_BYTES * 8 },
        key,
        content,
      );
      return { head, body: Buffer.from(body), keyId };
    },
    keyFor(place, keyId) {
      const key = subKey(keyId);
      if (!key) throw new DecryptError("unknown-key", `no key "${keyId}" in the keyring (was it removed from ENCRYPTION_KEY?)`);
      return { key: Uint8Array.from(key), aad: new Uint8Array(aad(keyId, place)) };
    },
  };
}

/** The stored form of a sealed input in one piece (tests, tools; admission lets PostgreSQL join it). */
export const joinSealed = (s: SealedInput): Buffer => Buffer.concat([s.head, s.body]);

/**
 * Opens one stored input with its {@link InputKey}, synchronously: for the extraction thread
 * (or this thread in tests and with DETECTION_THREADS=0), never the API's main thread.
 * Throws DecryptError when the bytes are malformed or do not authenticate (tampered, or
 * another row's).
 */
export function openSealed(k: InputKey, sealed: Uint8Array): Uint8Array {
  const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (data.length < HEAD_BYTES + TAG_BYTES || data[0] !== VERSION) throw new DecryptError("malformed", "sealed input is malformed");
  try {
    const decipher = createDecipheriv("aes-256-gcm", k.key, data.subarray(1, HEAD_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(k.aad);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const body = decipher.update(data.subarray(HEAD_BYTES, data.length - TAG_BYTES));
    const tail = decipher.final();
    return tail.length === 0 ? body : Buffer.concat([body, tail]);
  } catch {
    throw new DecryptError("authentication", "sealed input does not authenticate (tampered, or another row's)");
  }
}
