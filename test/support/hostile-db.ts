import net from "node:net";

/**
 * Fake "database" servers for tests and benches of the target-database client (issue 10.5,
 * 12.2): real sockets speaking just enough of the PostgreSQL or MySQL wire protocol to be
 * hostile. Payloads are streamed lazily (one reused 1 MiB chunk, honouring backpressure), so
 * the only memory that can grow is the client's.
 */

export const HUGE = 400 * 1024 * 1024;
export const CHUNK = Buffer.alloc(1024 * 1024, 0x78); // "x"

export interface Hostile {
  port: number;
  /** Bytes of the huge payload written before the client went away. */
  sent(): number;
  /** Resolves when the client's socket closed. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** Every fake server still open; {@link closeHostileServers} closes them (call it in afterEach). */
const open: Hostile[] = [];
export async function closeHostileServers(): Promise<void> {
  await Promise.all(open.splice(0).map((s) => s.close()));
}

/** Writes `header`, then `HUGE` bytes of "x" without ever holding them, until the peer leaves. */
export function streamHuge(socket: net.Socket, header: Buffer, counter: { sent: number }): void {
  socket.write(header);
  const pump = () => {
    while (counter.sent < HUGE && !socket.destroyed) {
      const n = Math.min(CHUNK.length, HUGE - counter.sent);
      counter.sent += n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void socket.once("drain", pump);
    }
  };
  pump();
}

export async function hostile(onConnection: (socket: net.Socket, counter: { sent: number }) => void): Promise<Hostile> {
  const counter = { sent: 0 };
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      sockets.delete(socket);
      resolveClosed();
    });
    onConnection(socket, counter);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const s: Hostile = {
    port: (server.address() as net.AddressInfo).port,
    sent: () => counter.sent,
    closed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  open.push(s);
  return s;
}

// ----- PostgreSQL wire protocol (v3), server side ----------------------------------------

export function pgMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
export const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");
export const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
export const authOk = () => pgMessage("R", int32(0));
export const readyForQuery = () => pgMessage("Z", Buffer.from("I"));

/** Waits for the startup message (int32 length first), then hands over. */
export function onStartup(socket: net.Socket, then: () => void): void {
  let got = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    got = Buffer.concat([got, chunk]);
    if (got.length >= 4 && got.length >= got.readInt32BE(0)) {
      socket.off("data", onData);
      then();
    }
  };
  socket.on("data", onData);
}

/** Streams a ParameterStatus server_version whose value is HUGE bytes long. */
export function streamHugeVersion(socket: net.Socket, counter: { sent: number }): void {
  const name = cstr("server_version");
  const header = Buffer.alloc(5);
  header.write("S", 0, "latin1");
  header.writeInt32BE(4 + name.length + HUGE + 1, 1);
  streamHuge(socket, Buffer.concat([header, name]), counter);
}

/** Streams one DataRow of one column whose value is HUGE bytes long. */
export function streamHugeRow(socket: net.Socket, counter: { sent: number }): void {
  const header = Buffer.alloc(11);
  header.write("D", 0, "latin1");
  header.writeInt32BE(4 + 2 + 4 + HUGE, 1);
  header.writeInt16BE(1, 5);
  header.writeInt32BE(HUGE, 7);
  streamHuge(socket, header, counter);
}

/** Streams catalogue rows (batches of 2,000 small tables) until HUGE bytes went out or the socket closed. */
export function streamEndlessCatalogue(socket: net.Socket, counter: { sent: number }): void {
  const row = (i: number) => {
    const cells = catalogRow(`t${i}`).map((cell) => Buffer.concat([int32(Buffer.byteLength(cell)), Buffer.from(cell)]));
    return pgMessage("D", Buffer.concat([Buffer.from([0, 8]), ...cells]));
  };
  const batch = Buffer.concat(Array.from({ length: 2_000 }, (_, i) => row(i)));
  const pump = () => {
    while (!socket.destroyed && counter.sent < HUGE) {
      counter.sent += batch.length;
      if (!socket.write(batch)) return void socket.once("drain", pump);
    }
  };
  pump();
}

/** ParameterStatus server_version whose value is HUGE bytes long. */
export function hugeVersionServer() {
  return hostile((socket, counter) =>
    onStartup(socket, () => {
      socket.write(authOk());
      streamHugeVersion(socket, counter);
    }),
  );
}

/** A normal start-up, then answers the first query with one DataRow of HUGE bytes. */
export function hugeRowServer() {
  return hostile((socket, counter) =>
    onStartup(socket, () => {
      socket.write(Buffer.concat([authOk(), pgMessage("S", Buffer.concat([cstr("server_version"), cstr("16.0")])), pgMessage("K", Buffer.concat([int32(1), int32(2)])), readyForQuery()]));
      socket.once("data", () => {
        // RowDescription: one text column "v".
        const field = Buffer.concat([cstr("v"), int32(0), Buffer.from([0, 0]), int32(25), Buffer.from([0xff, 0xff]), int32(-1), Buffer.from([0, 0])]);
        socket.write(pgMessage("T", Buffer.concat([Buffer.from([0, 1]), field])));
        streamHugeRow(socket, counter);
      });
    }),
  );
}

// ----- MySQL wire protocol, server side --------------------------------------------------

/** An initial handshake whose server version is HUGE bytes, in 16 MiB - 1 packets as the protocol splits it. */
export function hugeMysqlVersionServer() {
  return hostile((socket, counter) => {
    // First packet header: a full-size (0xffffff) packet, sequence 0, protocol version 10.
    streamHuge(socket, Buffer.from([0xff, 0xff, 0xff, 0x00, 10]), counter);
  });
}


/**
 * A PostgreSQL server that answers any query: simple queries by `answer(sql)` (rows of text
 * columns, or a custom writer), extended-protocol ones (pg uses them for bound values) with
 * no rows.
 */
export function fakePg(answer: (sql: string, socket: net.Socket, counter: { sent: number }) => string[][] | "custom") {
  return hostile((socket, counter) =>
    onStartup(socket, () => {
      socket.write(Buffer.concat([authOk(), pgMessage("S", Buffer.concat([cstr("server_version"), cstr("16.0")])), pgMessage("K", Buffer.concat([int32(1), int32(2)])), readyForQuery()]));
      let buffer = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        while (buffer.length >= 5 && buffer.length >= 1 + buffer.readInt32BE(1)) {
          const type = String.fromCharCode(buffer[0]!);
          const body = buffer.subarray(5, 1 + buffer.readInt32BE(1));
          buffer = buffer.subarray(1 + buffer.readInt32BE(1));
          if (type === "S") socket.write(Buffer.concat([pgMessage("1", Buffer.alloc(0)), pgMessage("2", Buffer.alloc(0)), pgMessage("n", Buffer.alloc(0)), pgMessage("C", cstr("SELECT 0")), readyForQuery()]));
          if (type !== "Q") continue;
          const sql = body.subarray(0, body.length - 1).toString("utf8");
          const rows = answer(sql, socket, counter);
          if (rows === "custom") continue;
          const width = rows[0]?.length ?? 1;
          const fields = Array.from({ length: width }, (_, i) =>
            Buffer.concat([cstr(`c${i}`), int32(0), Buffer.from([0, 0]), int32(25), Buffer.from([0xff, 0xff]), int32(-1), Buffer.from([0, 0])]),
          );
          const description = pgMessage("T", Buffer.concat([Buffer.from([0, width]), ...fields]));
          const dataRows = rows.map((row) => {
            const cells = row.map((cell) => Buffer.concat([int32(Buffer.byteLength(cell)), Buffer.from(cell)]));
            return pgMessage("D", Buffer.concat([Buffer.from([0, row.length]), ...cells]));
          });
          socket.write(Buffer.concat([description, ...dataRows, pgMessage("C", cstr(`SELECT ${rows.length}`)), readyForQuery()]));
        }
      });
    }),
  );
}

export const isListing = (sql: string) => sql.includes("pg_catalog.pg_class");
export const catalogRow = (table: string) => ["public", table, "r", "10", "email", "text", "S", "t"];
