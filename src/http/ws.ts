import type { Server as HttpServer } from "node:http";
import { type DocumentNode, type GraphQLSchema, getOperationAST, parse, specifiedRules, validate } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import type { Config } from "../config/config.js";
import { authenticate, buildContext, type ContextDeps } from "../graphql/context.js";
import { maskError } from "../graphql/errors.js";
import { INTROSPECTION_DENIED, introspectionAllowed, usesIntrospection, type QueryLimits } from "../graphql/limits.js";
import type { AuthUser } from "../platform/auth/jwt.js";
import type { Metrics } from "../platform/observability/metrics.js";
import { AppError } from "../shared/errors.js";

const MAX_CACHED_DOCUMENTS = 200;
const MAX_CACHED_QUERY_LENGTH = 8 * 1024;

interface ConnectionState {
  user: AuthUser | null;
  /** operation id -> whether it is a subscription */
  operations: Map<string, boolean>;
}

export interface WsHandle {
  readonly wss: WebSocketServer;
  /** Closes every socket with 1001 (going away) and stops accepting new ones. */
  close(): Promise<void>;
  readonly clientCount: () => number;
  readonly subscriptionCount: () => number;
}

/**
 * graphql-ws on the HTTP server's port and path. The same limits as HTTP: token count at
 * parse, depth/aliases/cost at validation, introspection by role; plus a cap on operations per
 * connection and on message size (ws `maxPayload`, closed with 1009 when exceeded).
 */
export function attachWebSocket(options: {
  server: HttpServer;
  schema: GraphQLSchema;
  config: Config;
  limits: QueryLimits;
  deps: ContextDeps;
  metrics: Metrics;
}): WsHandle {
  const { server, schema, config, limits, deps, metrics } = options;
  const log = deps.log.child({ transport: "ws" });
  const wss = new WebSocketServer({ server, path: "/graphql", maxPayload: config.MAX_WS_MESSAGE_SIZE });
  const states = new WeakMap<object, ConnectionState>();
  let subscriptions = 0;
  const rules = [...specifiedRules, ...limits.validationRules];
  // Parsed and validated documents by query text. A subscription keeps its document (AST, tokens
  // and locations: about 10 KB for a small query) for its whole life; thousands of clients send
  // the same few queries, so they share one immutable document, and skip parse + validate.
  // Depends only on the query text (schema, parse options and rules are fixed); introspection
  // is still checked per user below. Bounded; evicts the oldest entry.
  const documents = new Map<string, DocumentNode>();

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
        socket.close(1013, "Too slow: reconnect and resubscribe");
        // A client that does not read will not complete the close handshake either.
        setTimeout(() => socket.terminate(), 2_000).unref();
      }
    }
  }, Math.min(1_000, config.WS_SLOW_CLIENT_TIMEOUT));
  slowCheck.unref();

  wss.on("connection", (socket: WebSocket) => {
    metrics.wsConnections.inc();
    socket.once("close", (code: number) => {
      behindSince.delete(socket);
      metrics.wsConnections.dec();
      metrics.wsClosed.inc({ code: String(code) });
    });
  });

  const stateOf = (extra: object): ConnectionState => {
    let s = states.get(extra);
    if (!s) states.set(extra, (s = { user: null, operations: new Map() }));
    return s;
  };

  const disposable = useServer(
    {
      schema,
      connectionInitWaitTimeout: 10_000,
      onConnect: async (ctx) => {
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        try {
          const user = await authenticate(deps, typeof raw === "string" ? raw : null);
          if (!user) return false; // every WebSocket operation needs a user
          stateOf(ctx.extra).user = user;
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onSubscribe: (ctx, id, payload) => {
        const state = stateOf(ctx.extra);
        const started = process.hrtime.bigint();
        const fail = (message: string, reason?: string) => {
          metrics.graphqlOperations.inc({ type: "unknown", name: "rejected", outcome: "rejected", transport: "ws" });
          return [new AppError("BAD_USER_INPUT", message, reason ? { reason } : {})];
        };
        // graphql-ws's own table of the connection's operations (this one included) is updated
        // the moment a client completes one, unlike our bookkeeping, which waits for the
        // operation's loop to end: count from it so a freed slot is free at once.
        const open = Object.keys(ctx.subscriptions).length;
        if (open > config.MAX_SUBSCRIPTIONS_PER_CONNECTION) {
          return fail(`At most ${config.MAX_SUBSCRIPTIONS_PER_CONNECTION} operations per connection (MAX_SUBSCRIPTIONS_PER_CONNECTION)`, "TOO_MANY_SUBSCRIPTIONS");
        }
        let document = documents.get(payload.query);
        if (!document) {
          try {
            document = parse(payload.query, limits.parseOptions);
          } catch (err) {
            return fail((err as Error).message, "GRAPHQL_PARSE_FAILED");
          }
          const errors = validate(schema, document, rules);
          if (errors.length > 0) {
            metrics.graphqlOperations.inc({ type: "unknown", name: "invalid", outcome: "rejected", transport: "ws" });
            return errors.map((e) => new AppError("BAD_USER_INPUT", e.message, { reason: e.extensions.reason ?? "GRAPHQL_VALIDATION_FAILED" }));
          }
          if (payload.query.length <= MAX_CACHED_QUERY_LENGTH) {
            if (documents.size >= MAX_CACHED_DOCUMENTS) documents.delete(documents.keys().next().value!);
            documents.set(payload.query, document);
          }
        }
        if (usesIntrospection(document) && !introspectionAllowed(state.user, config)) {
          return [new AppError("FORBIDDEN", INTROSPECTION_DENIED)];
        }
        const operation = getOperationAST(document, payload.operationName);
        const type = operation?.operation ?? "unknown";
        const name = metrics.operationLabel(payload.operationName ?? operation?.name?.value);
        state.operations.set(id, type === "subscription");
        if (type === "subscription") {
          subscriptions++;
          metrics.wsSubscriptions.inc();
        }
        metrics.graphqlOperations.inc({ type, name, outcome: "started", transport: "ws" });
        metrics.graphqlDuration.observe({ type, name, transport: "ws" }, Number(process.hrtime.bigint() - started) / 1e9);
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: buildContext(deps, state.user, "ws"),
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return undefined;
        return { ...result, errors: result.errors.map((e) => maskError(e.toJSON(), e, log)) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => maskError(e.toJSON(), e, log)),
      onComplete: (ctx, id) => release(ctx.extra, id),
      onClose: (ctx) => {
        const state = states.get(ctx.extra);
        if (state) for (const id of [...state.operations.keys()]) release(ctx.extra, id);
      },
    },
    wss,
  );

  function release(extra: object, id: string): void {
    const state = states.get(extra);
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
    close() {
      closing ??= (async () => {
        clearInterval(slowCheck);
        for (const client of wss.clients) client.close(1001, "Server shutting down");
        await Promise.resolve(disposable.dispose()).catch(() => undefined);
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}
