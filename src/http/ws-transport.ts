import { CloseCode, handleProtocols, makeServer, type ServerOptions } from "graphql-ws";
import type { WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../platform/observability/logger.js";
import { socketWork } from "../shared/turns.js";

/**
 * graphql-ws's protocol server (makeServer) on `ws` sockets: what graphql-ws/use/ws does, with
 * the work a socket brings paced in turns of the event loop (shared/turns.ts, issue 11).
 * - each incoming message starts in its turn (FIFO, so a socket's messages keep their order):
 *   in a reconnect storm thousands of `connection_init` and `subscribe` messages arrive within
 *   one poll phase, and authenticating and starting them all in one piece stalled every other
 *   request for seconds;
 * - a closed socket's cleanup (its subscriptions ended, their listeners removed) runs in turns
 *   too: when thousands of clients drop at once, the cleanup is spread instead of one stall;
 * - no per-socket keep-alive timers (http/ws.ts has one sweep for all sockets).
 */
export interface PacedTransport {
  dispose(): Promise<void>;
}

/**
 * A socket whose messages wait in the line faster than they start stops being read (ws pause:
 * the kernel holds the rest and the client's sends slow down) until its backlog is small again,
 * so a client flooding messages cannot grow our queue without bound.
 */
const PAUSE_AT = 32;
const RESUME_AT = 8;

const INTERNAL = "Internal server error";

export function servePaced<E extends { socket: WebSocket }>(
  wss: WebSocketServer,
  options: ServerOptions<Record<string, unknown> | undefined, E>,
  log: Logger,
): PacedTransport {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
  wss.once("error", (err) => {
    log.error({ err }, "WebSocket server error; closing every socket");
    for (const client of wss.clients) client.close(CloseCode.InternalServerError, INTERNAL);
  });
  wss.on("connection", (socket: WebSocket) => {
    socket.once("error", (err) => {
      // A client's protocol fault (bad frame, message too big: ws closes with its own code);
      // counted by close code in /metrics, logged at debug so a hostile client cannot flood the log.
      log.debug({ err: err.message }, "WebSocket error; closing it");
      socket.close(CloseCode.InternalServerError, INTERNAL);
    });
    let waiting = 0; // this socket's messages in the line
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on("message", (event) => {
            const text = String(event);
            if (++waiting >= PAUSE_AT && !socket.isPaused) socket.pause();
            socketWork.schedule({
              run() {
                if (--waiting <= RESUME_AT && socket.isPaused) socket.resume();
                if (socket.readyState !== socket.OPEN) return; // closed while it waited
                cb(text).catch((err: unknown) => {
                  log.error({ err }, "WebSocket message handling failed; closing the socket (4500)");
                  socket.close(CloseCode.InternalServerError, INTERNAL);
                });
              },
            });
          }),
      },
      // Only the socket: the upgrade request (headers, buffers) is not kept for the socket's life.
      { socket } as E,
    );
    socket.once("close", (code: number, reason: Buffer) => {
      const why = String(reason);
      socketWork.schedule({
        run() {
          closed(code, why).catch((err: unknown) => log.warn({ err }, "WebSocket cleanup failed"));
        },
      });
    });
  });
  return {
    async dispose() {
      for (const client of wss.clients) client.close(1001, "Going away");
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
