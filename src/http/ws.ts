import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Duplex } from "node:stream";
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema, getOperationAST } from "graphql";
import type { ServerOptions } from "graphql-ws";
import { Counter, Gauge } from "prom-client";
import { WebSocketServer, type WebSocket } from "ws";
import type { Config } from "../config/config.js";
import { CloseCode, CloseReason } from "../graphql/close-codes.js";
import { authenticate, buildContext, type ContextDeps } from "../graphql/context.js";
import type { GraphQLEdge } from "../graphql/edge.js";
import { createFanoutSubscribe, FANOUT_SINK, type FanoutOptions, type FanoutSink } from "../graphql/fanout.js";
import type { AuthUser } from "../platform/auth/jwt.js";
import type { Metrics } from "../platform/observability/metrics.js";
import { AppError, type ErrorCode } from "../shared/errors.js";
import { socketWork } from "../shared/turns.js";
import { servePaced } from "./ws-transport.js";

interface ConnectionState {
  socket: WebSocket;
  user: AuthUser | null;
  /** The token's `exp` in ms; the socket is closed (4403) then, and every operation re-checks it. */
  expiresAt: number;
  expiryTimer: NodeJS.Timeout | null;
  /** operation id -> whether it is a subscription */
  operations: Map<string, boolean>;
}

/** What the capacity monitor and /metrics read (issue 11: admins see the counts). */
export interface WsCounts {
  clients: number;
  subscriptions: number;
  /** Users with at least one socket on this instance. */
  users: number;
  /** The most sockets one user holds here. */
  busiestUser: number;
  /** Sockets refused since start: per-user cap (4430) and instance cap (1013). */
  refusedPerUser: number;
  refusedInstanceFull: number;
  /** Sockets closed because their token expired (4403). */
  expired: number;
}

export interface WsHandle {
  readonly wss: WebSocketServer;
  /** Closes every socket with 1001 (going away) and stops accepting new ones. */
  close(): Promise<void>;
  readonly clientCount: () => number;
  readonly subscriptionCount: () => number;
  readonly counts: () => WsCounts;
}

/** Longest timer Node accepts (about 24.8 days); later expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * graphql-ws on the HTTP server's port and path, with the same edge as HTTP (graphql/edge.ts:
 * limits, introspection gate, cost with variables, metrics) and, for sockets only:
 * - fair sharing: at most MAX_WS_CONNECTIONS_PER_USER sockets per user (4430) and
 *   MAX_WS_CONNECTIONS per instance (1013), MAX_SUBSCRIPTIONS_PER_CONNECTION operations each;
 * - token lifetime: the socket closes with 4403 when its token expires; every operation
 *   re-checks. A client renews by reconnecting with a new token and resubscribing with `since`;
 * - fan-out: one execution and one JSON serialization per event per distinct operation
 *   (graphql/fanout.ts); per subscriber only the id is spliced into the frame (nextSink);
 * - backpressure: a socket that cannot drain for WS_SLOW_CLIENT_TIMEOUT closes with 1013.
 * A connection costs no database query: the token is verified in memory (no user upsert).
 */
export function attachWebSocket(options: {
  server: HttpServer;
  schema: GraphQLSchema;
  config: Config;
  edge: GraphQLEdge;
  deps: ContextDeps;
  metrics: Metrics;
  fanout: FanoutOptions;
  maskErrors: (errors: readonly GraphQLError[]) => GraphQLFormattedError[];
}): WsHandle {
  const { server, schema, config, edge, deps, metrics, maskErrors } = options;
  const log = deps.log.child({ transport: "ws" });
  // noServer: the handshakes are ours to pace (upgrades below); ws still checks path and headers.
  const wss = new WebSocketServer({ noServer: true, path: "/graphql", maxPayload: config.MAX_WS_MESSAGE_SIZE });
  const upgrades = paceUpgrades(server, wss, config.MAX_PENDING_WS_UPGRADES);
  const keepalive = keepAlive(wss, config.WS_KEEPALIVE);
  /** Per socket (graphql-ws's `extra` holds it): the user, the expiry, the operations. */
  const states = new WeakMap<WebSocket, ConnectionState>();
  const perUser = new Map<string, number>();
  let subscriptions = 0;
  const stats = { refusedPerUser: 0, refusedInstanceFull: 0, expired: 0 };
  // For operators (/metrics) and the capacity view: who holds the sockets, and what was refused.
  new Gauge({
    name: "dg_ws_users",
    help: "Users with at least one WebSocket on this instance",
    registers: [metrics.registry],
    collect() {
      this.set(perUser.size);
    },
  });
  new Gauge({
    name: "dg_ws_busiest_user_connections",
    help: "Most WebSockets one user holds on this instance (capped by MAX_WS_CONNECTIONS_PER_USER)",
    registers: [metrics.registry],
    collect() {
      let most = 0;
      for (const n of perUser.values()) if (n > most) most = n;
      this.set(most);
    },
  });
  new Gauge({
    name: "dg_ws_upgrades_pending",
    help: "WebSocket handshakes waiting their turn (a reconnect storm is admitted at the pace the event loop allows)",
    registers: [metrics.registry],
    collect() {
      this.set(upgrades.pending());
    },
  });
  const refused = new Counter({
    name: "dg_ws_refused_total",
    help: "WebSockets refused: reason per_user (4430), instance_full (1013), token_expired (4403 on an open socket)",
    labelNames: ["reason"] as const,
    registers: [metrics.registry],
  });

  // Backpressure. graphql-ws awaits each send, and scan streams keep only the latest event per
  // scan, so a slow reader holds at most one message per subscription in our memory; the rest
  // waits in the kernel. A socket that has not drained for WS_SLOW_CLIENT_TIMEOUT is closed
  // with 1013 (try again later): the client reconnects and gets the current state first.
  const behindSince = new Map<WebSocket, number>();
  const slowCheck = setInterval(() => {
    const now = Date.now();
    for (const socket of wss.clients) {
      const raw = (socket as unknown as { _socket?: { writableLength: number } })._socket;
      const backlog = (raw?.writableLength ?? 0) + socket.bufferedAmount;
      if (backlog === 0) {
        behindSince.delete(socket);
        continue;
      }
      const since = behindSince.get(socket) ?? now;
      behindSince.set(socket, since);
      if (now - since >= config.WS_SLOW_CLIENT_TIMEOUT) {
        behindSince.delete(socket);
        metrics.wsSlowClientsClosed.inc();
        log.warn({ backlogBytes: backlog }, "closing a WebSocket that stopped reading (1013)");
        socket.close(CloseCode.TryAgainLater, CloseReason.slowReader);
        // A client that does not read will not complete the close handshake either.
        setTimeout(() => socket.terminate(), 2_000).unref();
      }
    }
  }, Math.min(1_000, config.WS_SLOW_CLIENT_TIMEOUT));
  slowCheck.unref();

  // Registered before graphql-ws's own listener: a socket over the instance cap is closed
  // before it costs anything more than the handshake.
  wss.on("connection", (socket: WebSocket) => {
    metrics.wsConnections.inc();
    socket.once("close", (code: number) => {
      behindSince.delete(socket);
      metrics.wsConnections.dec();
      metrics.wsClosed.inc({ code: String(code) });
      // The user's slot is free at once: the rest of the cleanup waits its turn (ws-transport.ts),
      // and a client reconnecting meanwhile must not be refused for a socket already gone.
      const state = states.get(socket);
      if (state) releaseUser(state);
    });
    if (wss.clients.size > config.MAX_WS_CONNECTIONS) {
      stats.refusedInstanceFull++;
      refused.inc({ reason: "instance_full" });
      socket.close(CloseCode.TryAgainLater, CloseReason.instanceFull(config.MAX_WS_CONNECTIONS));
    }
  });

  const stateOf = (extra: { socket: WebSocket }): ConnectionState => {
    let s = states.get(extra.socket);
    if (!s) states.set(extra.socket, (s = { socket: extra.socket, user: null, expiresAt: Number.POSITIVE_INFINITY, expiryTimer: null, operations: new Map() }));
    return s;
  };
  const releaseUser = (state: ConnectionState) => {
    if (state.expiryTimer) clearTimeout(state.expiryTimer);
    state.expiryTimer = null;
    if (!state.user) return;
    const held = (perUser.get(state.user.id) ?? 1) - 1;
    if (held > 0) perUser.set(state.user.id, held);
    else perUser.delete(state.user.id);
    state.user = null;
  };

  const armExpiry = (state: ConnectionState) => {
    const left = state.expiresAt - Date.now();
    if (!Number.isFinite(left)) return;
    state.expiryTimer = setTimeout(() => {
      if (Date.now() < state.expiresAt) return armExpiry(state);
      expire(state);
    }, Math.max(0, Math.min(left, MAX_TIMER_MS)));
    state.expiryTimer.unref();
  };
  const expire = (state: ConnectionState) => {
    stats.expired++;
    refused.inc({ reason: "token_expired" });
    state.socket.close(CloseCode.Forbidden, CloseReason.tokenExpired);
  };

  // Refusals go out through graphql-ws's onError, which masks again: hand it AppErrors, which
  // the masker keeps as they are.
  const toErrors = (errors: readonly GraphQLError[]) =>
    maskErrors(errors).map((f) => {
      const { code, ...rest } = (f.extensions ?? {}) as { code?: ErrorCode };
      return new AppError(code ?? "INTERNAL_SERVER_ERROR", f.message, rest);
    });

  const serverOptions: ServerOptions<Record<string, unknown> | undefined, { socket: WebSocket }> & { isProd: boolean } = {
    schema,
    isProd: config.isProduction,
    connectionInitWaitTimeout: 10_000,
    subscribe: createFanoutSubscribe(schema, options.fanout) as ServerOptions["subscribe"],
    onConnect: async (ctx) => {
      const state = stateOf(ctx.extra);
      const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
      let user: AuthUser | null;
      try {
        user = await authenticate(deps, typeof raw === "string" ? raw : null);
      } catch {
        return false; // graphql-ws closes with 4403 Forbidden
      }
      if (!user) return false; // every WebSocket operation needs a user
      // Closed while the token was checked: onClose has run, so nothing may be counted now.
      if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
      const held = perUser.get(user.id) ?? 0;
      if (held >= config.MAX_WS_CONNECTIONS_PER_USER) {
        stats.refusedPerUser++;
        refused.inc({ reason: "per_user" });
        // Closed with our code first; graphql-ws's own 4403 for `false` then finds it closing.
        ctx.extra.socket.close(CloseCode.TooManyConnections, CloseReason.tooManyConnections(config.MAX_WS_CONNECTIONS_PER_USER));
        return false;
      }
      perUser.set(user.id, held + 1);
      state.user = user;
      state.expiresAt = user.expiresAt ?? Number.POSITIVE_INFINITY;
      armExpiry(state);
      return true;
    },
    onSubscribe: async (ctx, id, payload) => {
      const state = stateOf(ctx.extra);
      if (Date.now() >= state.expiresAt) {
        expire(state);
        return [new AppError("UNAUTHENTICATED", CloseReason.tokenExpired)];
      }
      // graphql-ws's own table of the connection's operations (this one included) is updated
      // the moment a client completes one, unlike our bookkeeping, which waits for the
      // operation's loop to end: count from it so a freed slot is free at once.
      const open = Object.keys(ctx.subscriptions).length;
      if (open > config.MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        edge.observe("ws", "unknown", "rejected")("rejected");
        return [
          new AppError("BAD_USER_INPUT", `At most ${config.MAX_SUBSCRIPTIONS_PER_CONNECTION} operations per connection (MAX_SUBSCRIPTIONS_PER_CONNECTION)`, {
            reason: "TOO_MANY_SUBSCRIPTIONS",
          }),
        ];
      }
      const document = edge.document(payload.query);
      if (Array.isArray(document)) {
        edge.observe("ws", "unknown", "invalid")("rejected");
        return document;
      }
      const operation = getOperationAST(document, payload.operationName);
      const type = operation?.operation ?? "unknown";
      const done = edge.observe("ws", type, payload.operationName ?? operation?.name?.value);
      try {
        await edge.admit({ document, operation, variables: payload.variables, user: state.user });
      } catch (err) {
        done("rejected");
        return toErrors([err instanceof GraphQLError ? err : new GraphQLError((err as Error).message, { originalError: err as Error })]);
      }
      state.operations.set(id, type === "subscription");
      if (type === "subscription") {
        subscriptions++;
        metrics.wsSubscriptions.inc();
      }
      done("started");
      return {
        schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue: buildContext(deps, state.user, "ws"),
        ...(type === "subscription" ? { [FANOUT_SINK]: nextSink(ctx, id) } : {}),
      };
    },
    onNext: (_ctx, _id, _payload, _args, result) => {
      if (!result.errors?.length) return undefined;
      return { ...result, errors: maskErrors(result.errors) };
    },
    onError: (_ctx, _id, _payload, errors) => maskErrors(errors),
    onComplete: (ctx, id) => release(ctx.extra, id),
    onClose: (ctx) => {
      const state = states.get(ctx.extra.socket);
      if (!state) return;
      for (const id of [...state.operations.keys()]) release(ctx.extra, id);
      releaseUser(state); // normally done already when the socket closed
    },
  };
  // graphql-ws's protocol on our paced transport (ws-transport.ts); keep-alive is keepAlive below.
  const disposable = servePaced(wss, serverOptions as ServerOptions<Record<string, unknown> | undefined, { socket: WebSocket }>, log);

  /**
   * The `next` messages of one subscription, written without graphql-ws's per-message JSON: the
   * payload arrives serialized (once per event per distinct operation) and only the id is
   * spliced in, giving the same bytes graphql-ws's stringifyMessage would. Only while graphql-ws
   * has this very iterator registered under the id (not completed, not replaced) and the socket
   * is open; errors and `complete` still go through graphql-ws. `written` is called once the
   * frame is written, as graphql-ws's own send resolves: the subscription's next event goes only then.
   */
  function nextSink(ctx: { subscriptions: Record<string, unknown>; extra: { socket: WebSocket } }, id: string): FanoutSink {
    const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    const socket = ctx.extra.socket;
    return {
      send(iterator, payloadJson, written) {
        if (ctx.subscriptions[id] !== iterator || socket.readyState !== socket.OPEN) return false;
        socket.send(head + payloadJson + "}", written);
        return true;
      },
    };
  }

  function release(extra: { socket: WebSocket }, id: string): void {
    const state = states.get(extra.socket);
    const isSubscription = state?.operations.get(id);
    if (isSubscription === undefined) return;
    state!.operations.delete(id);
    if (isSubscription) {
      subscriptions--;
      metrics.wsSubscriptions.dec();
    }
  }


  let closing: Promise<void> | null = null;
  return {
    wss,
    clientCount: () => wss.clients.size,
    subscriptionCount: () => subscriptions,
    counts: () => {
      let busiestUser = 0;
      for (const n of perUser.values()) if (n > busiestUser) busiestUser = n;
      return { clients: wss.clients.size, subscriptions, users: perUser.size, busiestUser, ...stats };
    },
    close() {
      closing ??= (async () => {
        clearInterval(slowCheck);
        upgrades.close();
        keepalive.close();
        for (const client of wss.clients) client.close(CloseCode.GoingAway, CloseReason.shuttingDown);
        await Promise.resolve(disposable.dispose()).catch(() => undefined);
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/**
 * WebSocket handshakes at the pace the event loop allows. A reconnect storm (10,000 clients
 * within 2 s) would otherwise be handled in a few poll phases, each completing thousands of
 * handshakes, authentications and subscriptions before anything else runs: another user's
 * request waited seconds. Upgrade requests are queued as they arrive and completed in turns, so
 * HTTP requests, deliveries and timers keep theirs; the storm is served at the same total cost,
 * spread out. Beyond `maxPending` waiting handshakes the answer is 503 with Retry-After
 * (clients retry with backoff).
 */
function paceUpgrades(server: HttpServer, wss: WebSocketServer, maxPending: number) {
  let open = true;
  let waiting = 0;
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!wss.shouldHandle(req)) {
      // Not ours (another path): ws answers 400 at once, as when it listened itself.
      wss.handleUpgrade(req, socket, head, () => socket.destroy());
      return;
    }
    if (waiting >= maxPending) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const onError = () => socket.destroy(); // a reset while queued must not be an unhandled error
    socket.on("error", onError);
    waiting++;
    socketWork.schedule({ // the line of socket work (shared/turns.ts), with messages, starts and cleanup
      run() {
        waiting--;
        socket.off("error", onError); // ws adds its own
        if (!open || socket.destroyed || !socket.writable) return void socket.destroy(); // gave up while waiting, or shutting down
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
      },
    });
  };
  server.on("upgrade", onUpgrade);
  return {
    pending: () => waiting,
    close() {
      open = false;
      server.off("upgrade", onUpgrade);
    },
  };
}

/** Ping rounds per keep-alive period: each round pings one group of sockets, so pings are spread evenly. */
const KEEPALIVE_GROUPS = 12;

/**
 * Keep-alive for every socket with one timer: each socket is pinged once per `periodMs` (its
 * group's round), and one that has not answered the previous ping by its next round is dropped
 * (a dead peer is found within two periods, as with graphql-ws's own keep-alive, which costs a
 * setInterval, a setTimeout and a listener per socket per ping).
 */
function keepAlive(wss: WebSocketServer, periodMs: number) {
  const groups = Array.from({ length: KEEPALIVE_GROUPS }, () => new Set<WebSocket>());
  const unanswered = new Set<WebSocket>();
  let assign = 0;
  let round = 0;
  wss.on("connection", (socket: WebSocket) => {
    const group = groups[assign++ % KEEPALIVE_GROUPS]!;
    group.add(socket);
    socket.on("pong", () => unanswered.delete(socket));
    socket.once("close", () => {
      group.delete(socket);
      unanswered.delete(socket);
    });
  });
  const timer = setInterval(() => {
    for (const socket of groups[round++ % KEEPALIVE_GROUPS]!) {
      if (socket.readyState !== socket.OPEN) continue;
      if (unanswered.has(socket)) {
        socket.terminate();
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
  }, Math.max(1, Math.floor(periodMs / KEEPALIVE_GROUPS)));
  timer.unref();
  return { close: () => clearInterval(timer) };
}
