/** The binary COPY reader (bytea-copy.ts): one bytea column, rows in order, chunks split anywhere. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { byteaCopyReader } from "../../../src/modules/scans/bytea-copy.js";

/** A binary COPY stream of one bytea column, as PostgreSQL writes it. */
function copyStream(rows: Buffer[], extension = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(4), Buffer.alloc(4)];
  parts[2]!.writeUInt32BE(extension.length);
  parts.push(extension);
  for (const row of rows) {
    const head = Buffer.alloc(6);
    head.writeInt16BE(1, 0);
    head.writeInt32BE(row.length, 2);
    parts.push(head, row);
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function read(stream: Buffer, size: number, cuts: (i: number) => number): { out: Buffer; n: number } {
  const out = Buffer.alloc(size);
  const reader = byteaCopyReader(out);
  for (let i = 0; i < stream.length; ) {
    const n = Math.max(1, Math.min(stream.length - i, cuts(i)));
    reader.push(stream.subarray(i, i + n));
    i += n;
  }
  return { out, n: reader.end() };
}

describe("byteaCopyReader", () => {
  const rows = [randomBytes(1000), randomBytes(1), randomBytes(777)];
  const whole = Buffer.concat(rows);
  const stream = copyStream(rows, Buffer.from("ext"));

  it.each([
    ["in one chunk", () => Infinity],
    ["byte by byte", () => 1],
    ["in chunks of 5 (heads split across chunks)", () => 5],
    ["in chunks of 7", () => 7],
    ["in random chunks", () => 1 + Math.floor(Math.random() * 40)],
  ])("joins the rows' bytes in order, read %s", (_how, cuts) => {
    const { out, n } = read(stream, whole.length, cuts);
    expect(n).toBe(whole.length);
    expect(out.equals(whole)).toBe(true);
  });

  it("reads no rows (an input deleted meanwhile, or empty) as 0 bytes", () => {
    expect(read(copyStream([]), 0, () => 3).n).toBe(0);
  });

  it("refuses what is not one complete binary COPY of one non-null column within the buffer", () => {
    expect(() => read(Buffer.from("id\tcontent\n1\tnot binary at all\n"), 10, () => Infinity)).toThrow(/not a binary COPY/);
    expect(() => read(stream.subarray(0, stream.length - 2), whole.length, () => Infinity)).toThrow(/ended early/);
    expect(() => read(stream, whole.length - 1, () => Infinity)).toThrow(/more bytes than expected/);
    const twoColumns = Buffer.from(stream);
    twoColumns.writeInt16BE(2, 19 + 3);
    expect(() => read(twoColumns, whole.length, () => Infinity)).toThrow(/one column/);
    const nul = copyStream([Buffer.alloc(0)]);
    nul.writeInt32BE(-1, 19 + 2);
    expect(() => read(nul, 0, () => Infinity)).toThrow(/NULL/);
  });
});
