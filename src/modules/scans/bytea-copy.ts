/**
 * Reads one bytea column of a `COPY (...) TO STDOUT (FORMAT binary)` stream straight into a
 * buffer. A stored input travels this way (scan-worker.repo.ts loadInput) because it is the one
 * path on which pg hands the bytes over as they are: a SELECT's bytea comes as hex text, which
 * pg turns into a string and decodes on the main thread (about 4 times the main-thread time for
 * 10 MB, bench/input-box.bench.ts).
 *
 * The binary COPY format (PostgreSQL docs, "COPY", Binary Format): an 11-byte signature, a
 * 32-bit flags field, a 32-bit header-extension length and that many bytes; then per row a
 * 16-bit field count (-1 ends the data) and per field a 32-bit length (-1 for NULL) and the
 * bytes. Chunks may split anything anywhere; the bytes of the column are copied once, into `out`.
 */

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const HEADER_BYTES = SIGNATURE.length + 4 + 4;

type Stage = "header" | "extension" | "row" | "field" | "data" | "end";

export interface ByteaCopyReader {
  /** One chunk of the COPY stream, as pg-copy-streams hands it. */
  push(chunk: Uint8Array): void;
  /** Bytes written to `out`; throws when the stream stopped before its end marker. */
  end(): number;
}

/** A reader for a COPY of exactly one non-null bytea column per row, rows written in turn into `out`. */
export function byteaCopyReader(out: Uint8Array): ByteaCopyReader {
  let stage: Stage = "header";
  let pos = 0;
  let left = 0; // bytes of the current field, or of the header extension, still to come
  let carry: Buffer | null = null; // a fixed-size head split across chunks
  const need = (): number => (stage === "header" ? HEADER_BYTES : stage === "row" ? 2 : 4);

  /** Reads one fixed-size head at `b[i..]`; returns how many bytes it used. */
  const head = (b: Buffer, i: number): number => {
    switch (stage) {
      case "header":
        if (!b.subarray(i, i + SIGNATURE.length).equals(SIGNATURE)) throw new Error("not a binary COPY stream");
        left = b.readUInt32BE(i + SIGNATURE.length + 4);
        stage = left > 0 ? "extension" : "row";
        return HEADER_BYTES;
      case "row": {
        const fields = b.readInt16BE(i);
        if (fields === -1) stage = "end";
        else if (fields === 1) stage = "field";
        else throw new Error(`binary COPY: expected one column, got ${fields}`);
        return 2;
      }
      case "field": {
        const length = b.readInt32BE(i);
        if (length < 0) throw new Error("binary COPY: unexpected NULL");
        if (pos + length > out.byteLength) throw new Error("binary COPY: more bytes than expected");
        left = length;
        stage = length > 0 ? "data" : "row";
        return 4;
      }
      default:
        throw new Error(`binary COPY: no head in stage ${stage}`);
    }
  };

  return {
    push(chunk) {
      const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let i = 0;
      while (i < b.length) {
        if (carry) {
          const take = Math.min(need() - carry.length, b.length - i);
          carry = Buffer.concat([carry, b.subarray(i, i + take)]);
          i += take;
          if (carry.length < need()) return;
          const whole = carry;
          carry = null;
          head(whole, 0);
          continue;
        }
        if (stage === "data" || stage === "extension") {
          const n = Math.min(left, b.length - i);
          if (stage === "data") out.set(b.subarray(i, i + n), pos);
          if (stage === "data") pos += n;
          left -= n;
          i += n;
          if (left === 0) stage = "row";
          continue;
        }
        if (stage === "end") throw new Error("binary COPY: data after the end marker");
        if (b.length - i < need()) {
          carry = Buffer.from(b.subarray(i));
          return;
        }
        i += head(b, i);
      }
    },
    end() {
      if (stage !== "end" || carry) throw new Error("binary COPY: the stream ended early");
      return pos;
    },
  };
}
