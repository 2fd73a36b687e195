/**
 * Queued document and code content at rest (issue 12 point 6): sealed with AES-256-GCM under
 * a sub-key of the same keyring as connection passwords (`ENCRYPTION_KEY`, key ids, rotation;
 * secret-box.ts), bound to its owner, scan and ordinal as associated data, so a row copied
 * elsewhere does not open. Bytes in, bytes out (documents are binary; secret-box seals text).
 *
 * Sealed format: `version (1) | nonce (12) | ciphertext | tag (16)`, as secret-box.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptError, deriveKey, type Keyring } from "../../platform/crypto/secret-box.js";

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const PURPOSE = "scan-input";

export interface InputPlace {
  ownerId: string;
  scanId: string;
  ordinal: number;
}

export interface SealedInput {
  content: Uint8Array;
  keyId: string;
}

export interface InputBox {
  seal(place: InputPlace, content: Uint8Array): SealedInput;
  /** Throws DecryptError when the key is gone or the row is not this place's. */
  open(place: InputPlace, sealed: SealedInput): Uint8Array;
}

const aad = (keyId: string, p: InputPlace): Buffer =>
  Buffer.from(`dataguardian/scan-input|v${VERSION}|${keyId}|${p.ownerId}|${p.scanId}|${p.ordinal}`, "utf8");

export function createInputBox(keyring: Keyring): InputBox {
  // Sub-keys per key id, derived once (HKDF), never the connection passwords' key itself.
  const keys = new Map<string, Buffer>();
  const keyFor = (keyId: string): Buffer | null => {
    let k = keys.get(keyId);
    if (!k) {
      if (!keyring.keys.has(keyId)) return null;
      k = deriveKey(keyring, PURPOSE, keyId);
      keys.set(keyId, k);
    }
    return k;
  };
  return {
    seal(place, content) {
      const keyId = keyring.currentKeyId;
      const key = keyFor(keyId);
      if (!key) throw new Error(`seal: the keyring has no current key "${keyId}"`);
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(keyId, place));
      // One copy of the document: header, ciphertext and tag are joined once (a Buffer, so
      // the repository hands it to pg as a binary parameter as it is).
      const body = cipher.update(content);
      const tail = cipher.final();
      return { content: Buffer.concat([Buffer.from([VERSION]), nonce, body, tail, cipher.getAuthTag()]), keyId };
    },
    open(place, sealed) {
      const key = keyFor(sealed.keyId);
      if (!key) throw new DecryptError("unknown-key", `no key "${sealed.keyId}" in the keyring (was it removed from ENCRYPTION_KEY?)`);
      const data = Buffer.from(sealed.content.buffer, sealed.content.byteOffset, sealed.content.byteLength);
      if (data.length < 1 + NONCE_BYTES + TAG_BYTES || data[0] !== VERSION) throw new DecryptError("malformed", "sealed input is malformed");
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(1, 1 + NONCE_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(sealed.keyId, place));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        return new Uint8Array(Buffer.concat([decipher.update(data.subarray(1 + NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]));
      } catch {
        throw new DecryptError("authentication", "sealed input does not authenticate (tampered, or another row's)");
      }
    },
  };
}
