import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { formatBytes } from "../../shared/text.js";

/**
 * Byte budgets at the socket of a scanned database (issue 10, point 5).
 *
 * pg and mysql2 buffer a whole protocol message before they parse it: a hostile server that
 * announces a 400 MB server version or row grows our memory by that much. The guard reads
 * the protocol's framing as the bytes arrive (the length is in every message header) and
 * destroys the socket, with a {@link WireLimitError}, as soon as a message announces more
 * than the current limit, or a response (everything since {@link WireGuard.limitResponse})
 * grows past its budget: before the driver has buffered more than one socket chunk of it.
 *
 * It watches the plaintext: the raw socket, and after a TLS upgrade the TLS socket the
 * driver reads from (each session hands it over, see `pg.session.ts` and `mysql.session.ts`).
 */

export type WireProtocol = "postgres" | "mysql";

/** What a session is doing when a limit is crossed, for the message. */
export type WirePhase = "connecting" | "listing tables" | "sampling" | "reading";

export class WireLimitError extends Error {
  readonly code = "TARGET_WIRE_LIMIT";
  constructor(message: string) {
    super(message);
    this.name = "WireLimitError";
  }
}

/** Limits while connecting and for catalogue reads: start-up, versions and names are small. @default 1 MiB */
export const SMALL_MESSAGE_LIMIT = 1024 * 1024;
/** Everything a catalogue listing may bring (about 80,000 columns of an honest server; parsing more stalls the event loop). @default 8 MiB */
export const LISTING_RESPONSE_LIMIT = 8 * 1024 * 1024;

const MYSQL_MAX_PACKET = 0xffffff;

export class WireGuard {
  private messageLimit = SMALL_MESSAGE_LIMIT;
  private responseLimit: number | null = null;
  private responseBytes = 0;
  private phase: WirePhase = "connecting";
  private parser: FrameParser;
  private tripped: WireLimitError | null = null;
  private watched: Duplex | null = null;
  private readonly onData = (chunk: Buffer) => this.feed(chunk);

  constructor(private readonly protocol: WireProtocol) {
    this.parser = newParser(protocol);
  }

  /** The limit for one protocol message from now on, and what the session is doing. */
  setMessageLimit(bytes: number, phase: WirePhase): void {
    this.messageLimit = Math.max(1024, Math.floor(bytes));
    this.phase = phase;
  }

  /** Counts every byte from now on against `bytes` (null: no response budget). */
  limitResponse(bytes: number | null): void {
    this.responseLimit = bytes === null ? null : Math.max(1024, Math.floor(bytes));
    this.responseBytes = 0;
  }

  /**
   * Runs `work` under a message limit and response budget, then goes back to small messages
   * and no budget; a cut connection fails with the guard's reason, not the driver's.
   */
  async limited<T>(messageLimit: number, responseLimit: number | null, phase: WirePhase, work: () => Promise<T>): Promise<T> {
    this.setMessageLimit(messageLimit, phase);
    this.limitResponse(responseLimit);
    try {
      return await work();
    } catch (error) {
      throw this.tripped ?? error;
    } finally {
      this.setMessageLimit(SMALL_MESSAGE_LIMIT, "reading");
      this.limitResponse(null);
    }
  }

  /** The error that cut the connection, if one did. */
  get error(): WireLimitError | null {
    return this.tripped;
  }

  /**
   * Watches `stream` (the socket or, after a TLS upgrade, the TLS socket) from its next byte.
   * `skipFirst` skips raw bytes that precede the framing (PostgreSQL's one-byte SSL answer).
   * The previous stream, if any, is no longer watched: its bytes are now ciphertext.
   */
  watch(stream: Duplex, options: { skipFirst?: number; thenStop?: boolean } = {}): void {
    this.watched?.off("data", this.onData);
    this.watched = stream;
    this.parser = newParser(this.protocol);
    if (options.skipFirst) {
      let skip = options.skipFirst;
      const stop = options.thenStop ?? false;
      const onFirst = (chunk: Buffer) => {
        if (skip <= 0) return;
        const take = Math.min(skip, chunk.length);
        skip -= take;
        if (skip > 0) return;
        stream.off("data", onFirst);
        if (!stop) {
          stream.on("data", this.onData);
          if (take < chunk.length) this.feed(chunk.subarray(take));
        }
      };
      stream.on("data", onFirst);
      return;
    }
    stream.on("data", this.onData);
  }

  private feed(chunk: Buffer): void {
    if (this.tripped || !this.watched) return;
    if (this.responseLimit !== null) {
      this.responseBytes += chunk.length;
      if (this.responseBytes > this.responseLimit) {
        return this.trip(
          `the database server sent more than ${formatBytes(this.responseLimit)} in one response while ${this.phase}; the connection was closed`,
        );
      }
    }
    const announced = this.parser(chunk, this.messageLimit);
    if (announced !== null) {
      this.trip(
        announced < 0
          ? `the database server sent a malformed ${this.protocol === "postgres" ? "PostgreSQL" : "MySQL"} message while ${this.phase}; the connection was closed`
          : `the database server sent a message larger than the ${formatBytes(this.messageLimit)} limit (${formatBytes(announced)} announced) while ${this.phase}; the connection was closed`,
      );
    }
  }

  private trip(message: string): void {
    this.tripped = new WireLimitError(message);
    this.watched?.destroy(this.tripped);
  }
}

/** A socket to `address:port` (the vetted address) watched by `guard` from its first byte. */
export function guardedSocket(guard: WireGuard, options: { skipFirst?: number; thenStop?: boolean } = {}): Socket {
  const socket = new Socket();
  guard.watch(socket, options);
  return socket;
}

/**
 * Reads frame headers from a byte stream; returns null while every message fits `limit`,
 * the announced size of the first message that does not, or -1 for an impossible header.
 */
type FrameParser = (chunk: Buffer, limit: number) => number | null;

function newParser(protocol: WireProtocol): FrameParser {
  return protocol === "postgres" ? postgresFrames() : mysqlFrames();
}

/**
 * A framing of fixed-size headers, each followed by a body: collects every header across
 * chunks, asks `read` for its body's length (or for the verdict to stop with), and skips the body.
 */
function framed(headerSize: number, read: (header: Buffer, limit: number) => number | { stop: number }): FrameParser {
  const header = Buffer.alloc(headerSize);
  let have = 0; // header bytes collected
  let remaining = 0; // body bytes of the current message still to come
  return (chunk, limit) => {
    let i = 0;
    while (i < chunk.length) {
      if (remaining > 0) {
        const skip = Math.min(remaining, chunk.length - i);
        remaining -= skip;
        i += skip;
        continue;
      }
      header[have++] = chunk[i++]!;
      if (have < headerSize) continue;
      have = 0;
      const body = read(header, limit);
      if (typeof body !== "number") return body.stop;
      remaining = body;
    }
    return null;
  };
}

/** PostgreSQL v3: a type byte, then an int32 length that counts itself but not the type. */
function postgresFrames(): FrameParser {
  return framed(5, (header, limit) => {
    const length = header.readUInt32BE(1);
    if (length < 4) return { stop: -1 };
    if (length + 1 > limit) return { stop: length + 1 };
    return length - 4;
  });
}

/**
 * MySQL: packets of a 3-byte little-endian length and a sequence byte; a payload of exactly
 * 0xffffff bytes continues in the next packet, and the driver joins them into one message.
 */
function mysqlFrames(): FrameParser {
  let message = 0; // bytes of the message so far (joined packets)
  return framed(4, (header, limit) => {
    const length = header.readUIntLE(0, 3);
    message += length;
    if (message > limit) return { stop: message };
    if (length < MYSQL_MAX_PACKET) message = 0;
    return length;
  });
}
