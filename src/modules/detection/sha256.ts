/**
 * HMAC-SHA256 in plain JavaScript for the engine's short messages (`TYPE:value`).
 * The keyed inner and outer states are computed once per key; each value then costs two
 * or three compressions and no native call, object or Buffer (a `createHash` copy/update/
 * digest round trip per value was the largest per-finding cost). Output equals
 * `createHmac("sha256", key).update(msg, "utf8").digest("hex")`.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const W = new Int32Array(64);

/** One compression of the 16 big-endian words in `block` (from `off`) into `h`. */
function compress(h: Int32Array, block: Int32Array, off: number): void {
  for (let i = 0; i < 16; i++) W[i] = block[off + i]!;
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

let msgWords = new Int32Array(64);
const state = new Int32Array(8);
const outerBlock = new Int32Array(16);

/** Writes byte `b` at byte offset `i` of the big-endian word buffer. */
function putByte(words: Int32Array, i: number, b: number): void {
  words[i >> 2] = words[i >> 2]! | (b << (24 - 8 * (i & 3)));
}

/** Pads `n` message bytes (already in `words`) after a 64-byte key block; returns block count. */
function pad(words: Int32Array, n: number): number {
  putByte(words, n, 0x80);
  const blocks = ((n + 8) >> 6) + 1;
  const bits = (n + 64) * 8; // the ipad/opad block precedes the message
  words[blocks * 16 - 1] = bits | 0;
  words[blocks * 16 - 2] = Math.floor(bits / 0x100000000) | 0;
  return blocks;
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? "0" : "") + i.toString(16));

function hex(h: Int32Array): string {
  let s = "";
  for (let i = 0; i < 8; i++) {
    const w = h[i]!;
    s += HEX[(w >>> 24) & 255]! + HEX[(w >>> 16) & 255]! + HEX[(w >>> 8) & 255]! + HEX[w & 255]!;
  }
  return s;
}

/** The SHA-256 state after one 64-byte block `bytes`. */
export function stateAfterBlock(bytes: Uint8Array): Int32Array {
  const words = new Int32Array(16);
  for (let i = 0; i < 64; i++) putByte(words, i, bytes[i]!);
  const h = Int32Array.from(IV);
  compress(h, words, 0);
  return h;
}

/** UTF-8 bytes of `msg` into `msgWords` (grown as needed); returns the byte length. */
function encode(msg: string): number {
  const maxBytes = msg.length * 3 + 72;
  if (maxBytes > msgWords.length * 4) msgWords = new Int32Array(((maxBytes >> 6) + 2) * 16);
  else msgWords.fill(0, 0, ((maxBytes >> 6) + 2) * 16);
  const words = msgWords;
  let n = 0;
  for (let i = 0; i < msg.length; i++) {
    let c = msg.charCodeAt(i);
    if (c < 0x80) {
      putByte(words, n++, c);
    } else if (c < 0x800) {
      putByte(words, n++, 0xc0 | (c >> 6));
      putByte(words, n++, 0x80 | (c & 63));
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < msg.length ? msg.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          putByte(words, n++, 0xf0 | (c >> 18));
          putByte(words, n++, 0x80 | ((c >> 12) & 63));
          putByte(words, n++, 0x80 | ((c >> 6) & 63));
          putByte(words, n++, 0x80 | (c & 63));
          continue;
        }
        c = 0xfffd; // a lone surrogate, as Node's UTF-8 encoder writes it
      }
      putByte(words, n++, 0xe0 | (c >> 12));
      putByte(words, n++, 0x80 | ((c >> 6) & 63));
      putByte(words, n++, 0x80 | (c & 63));
    }
  }
  return n;
}

/** HMAC-SHA256 hex of `msg` given the states after the ipad and opad blocks. */
export function hmacFromStates(inner: Int32Array, outer: Int32Array, msg: string): string {
  const n = encode(msg);
  const blocks = pad(msgWords, n);
  state.set(inner);
  for (let b = 0; b < blocks; b++) compress(state, msgWords, b * 16);
  outerBlock.set(state);
  outerBlock.fill(0, 8);
  outerBlock[8] = 0x80000000 | 0;
  outerBlock[15] = (64 + 32) * 8;
  state.set(outer);
  compress(state, outerBlock, 0);
  return hex(state);
}
