import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { WireGuard, WireLimitError } from "../../../src/platform/target-db/wire-guard.js";

/** Feeds `chunks` through a guard watching a stream; returns the error that cut it, if any. */
function run(protocol: "postgres" | "mysql", chunks: Buffer[], limit: number, options: { skipFirst?: number } = {}) {
  const guard = new WireGuard(protocol);
  guard.setMessageLimit(limit, "reading");
  const stream = new PassThrough();
  stream.on("error", () => undefined);
  guard.watch(stream, options);
  for (const chunk of chunks) if (!stream.destroyed) stream.emit("data", chunk);
  return guard.error;
}

const pg = (type: string, bodyLength: number) => {
  const b = Buffer.alloc(5 + bodyLength, 0x61);
  b.write(type, 0, "latin1");
  b.writeUInt32BE(bodyLength + 4, 1);
  return b;
};
const mysqlPacket = (length: number, seq = 0, body = true) => {
  const b = Buffer.alloc(4 + (body ? length : 0), 0x61);
  b.writeUIntLE(length, 0, 3);
  b[3] = seq;
  return b;
};
/** Splits a buffer into pieces of `size` bytes (headers cut across chunks). */
const pieces = (b: Buffer, size: number) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));

describe("WireGuard: PostgreSQL framing", () => {
  it.each([
    ["messages under the limit, whole", [pg("R", 4), pg("S", 100), pg("Z", 1)], null],
    ["messages under the limit, split every 3 bytes", pieces(Buffer.concat([pg("R", 4), pg("D", 2000), pg("Z", 1)]), 3), null],
    ["one message at exactly the limit (4096 bytes with its type byte)", [pg("D", 4091)], null],
    ["one message one byte over", [pg("D", 4092)], /larger than the 4 KB limit/],
    ["a huge length announced in a header split across chunks", pieces(pg("S", 5000).subarray(0, 5), 1), /larger than/],
    ["a length below 4 (impossible)", [Buffer.from([0x52, 0, 0, 0, 2])], /malformed PostgreSQL message/],
  ])("%s", (_name, chunks, expected) => {
    const error = run("postgres", chunks as Buffer[], 4096);
    if (expected === null) expect(error).toBeNull();
    else {
      expect(error).toBeInstanceOf(WireLimitError);
      expect(error!.message).toMatch(expected);
    }
  });

  it("skips PostgreSQL's one-byte SSL answer before the framing", () => {
    expect(run("postgres", [Buffer.concat([Buffer.from("N"), pg("E", 10)])], 4096, { skipFirst: 1 })).toBeNull();
    expect(run("postgres", [Buffer.from("N"), pg("E", 9000)], 4096, { skipFirst: 1 })).toBeInstanceOf(WireLimitError);
  });
});

describe("WireGuard: MySQL framing", () => {
  it.each([
    ["packets under the limit", [mysqlPacket(100), mysqlPacket(4000, 1)], null],
    ["split every 2 bytes", pieces(Buffer.concat([mysqlPacket(100), mysqlPacket(4000, 1)]), 2), null],
    ["one packet over", [mysqlPacket(5000)], /larger than the 4 KB limit/],
    ["a full-size (0xffffff) packet announces a message over any small limit", [mysqlPacket(0xffffff, 0, false)], /16 MB announced/],
  ])("%s", (_name, chunks, expected) => {
    const error = run("mysql", chunks as Buffer[], 4096);
    if (expected === null) expect(error).toBeNull();
    else expect(error?.message).toMatch(expected);
  });

  it("counts joined 0xffffff packets as one message", () => {
    const guard = new WireGuard("mysql");
    guard.setMessageLimit(40 * 2 ** 20, "sampling");
    const stream = new PassThrough();
    stream.on("error", () => undefined);
    guard.watch(stream);
    const part = mysqlPacket(0xffffff);
    stream.emit("data", part); // 16 MiB: fits
    expect(guard.error).toBeNull();
    stream.emit("data", part); // 32 MiB: fits
    expect(guard.error).toBeNull();
    stream.emit("data", mysqlPacket(0xffffff, 2, false)); // 48 MiB: over 40
    expect(guard.error?.message).toMatch(/larger than the 40 MB limit/);
    expect(stream.destroyed).toBe(true);
  });
});

describe("WireGuard: response budget", () => {
  it("cuts a response that grows past its budget, even of small messages", () => {
    const guard = new WireGuard("postgres");
    guard.limitResponse(10_000);
    const stream = new PassThrough();
    stream.on("error", () => undefined);
    guard.watch(stream);
    for (let i = 0; i < 100 && !stream.destroyed; i++) stream.emit("data", pg("D", 200));
    expect(guard.error?.message).toMatch(/more than 10 KB in one response/);
  });
});
