import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import express from "express";
import type { GraphQLSchema } from "graphql";
import type { Config } from "../config/config.js";
import { authenticate, buildContext, type ContextDeps, type GraphQLContext } from "../graphql/context.js";
import { GraphQLEdge } from "../graphql/edge.js";
import { maskError, RepeatedLog } from "../graphql/errors.js";
import type { QueryLimits } from "../graphql/limits.js";
import { FANOUT } from "../graphql/schema.js";
import type { Metrics } from "../platform/observability/metrics.js";
import { AppError } from "../shared/errors.js";
import { apolloHandler } from "./apollo-handler.js";
import { bodyErrorHandler, requireJsonBody, sendErrors } from "./http-errors.js";
import { mountProbes, type ReadinessCheck } from "./probes.js";
import { metricsGate } from "./metrics-access.js";
import { attachWebSocket, type WsHandle } from "./ws.js";

export type { ReadinessCheck };

const LISTEN_BACKLOG = 4096;

export interface HttpApp {
  readonly server: Server;
  readonly ws: WsHandle;
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, closes sockets with 1001, drains in-flight requests up to the grace period. */
  close(): Promise<void>;
}


export async function createHttpApp(options: {
  config: Config;
  schema: GraphQLSchema;
  limits: QueryLimits;
  deps: ContextDeps;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  /** Extra routes mounted before the 404 handler (the SPA, the explorer). */
  mount?: (app: express.Express) => void;
}): Promise<HttpApp> {
  const { config, schema, limits, deps, metrics } = options;
  const log = deps.log;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  const server = createServer(app);
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;

  mountProbes(app, { metrics, readiness: options.readiness, closing: () => closing !== null, metricsGate: metricsGate(config) });

  // One edge for both transports (issue 15): limits, introspection gate, cost with variables,
  // metrics; one error masker (production: no suggestions; overload: CAPACITY_EXCEEDED; repeated
  // internal errors logged once per minute with a count).
  const edge = new GraphQLEdge({ config, schema, limits, metrics, ensureUser: (user) => deps.services.users.ensure(user) });
  const repeats = new RepeatedLog(log);
  const maskOptions = { hideSuggestions: config.isProduction, retryAfterSeconds: Math.ceil(config.OVERLOAD_RETRY_AFTER / 1000), repeats };
  const ws = attachWebSocket({
    server,
    schema,
    config,
    edge,
    deps,
    metrics,
    fanout: FANOUT,
    maskErrors: (errors) => errors.map((e) => maskError(e.toJSON(), e, log, maskOptions)),
  });

  const plugins: ApolloServerPlugin<GraphQLContext>[] = [
    ApolloServerPluginDrainHttpServer({ httpServer: server, stopGracePeriodMillis: config.SHUTDOWN_GRACE }),
    { async serverWillStart() { return { drainServer: () => ws.close() }; } },
    edge.apolloPlugin(),
    // The default landing page loads from a CDN; the bundled explorer is served at /explorer (issue 7).
    ApolloServerPluginLandingPageDisabled(),
    // Every answer is per caller and no type carries cache hints: the default cache-control plugin
    // would only cost a hook per resolved field (bench/me.bench.ts).
    ApolloServerPluginCacheControlDisabled(),
    // Apollo turns these on by itself when APOLLO_KEY / APOLLO_GRAPH_REF are in the environment
    // (or, for inline traces, a federated schema): operation shapes and traces sent to Apollo's
    // cloud, and a hook or a trace per request. Never for this server.
    ApolloServerPluginUsageReportingDisabled(),
    ApolloServerPluginSchemaReportingDisabled(),
    ApolloServerPluginInlineTraceDisabled(),
  ];

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: true, // gated per caller by operationGuards
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: !config.introspectionForAll,
    formatError: (formatted, error) => maskError(formatted, error, log, maskOptions),
    csrfPrevention: true,
    // Shutdown is ours (src/cli.ts → app.stop(), one ordered sequence). Apollo's own handlers
    // would stop the server behind our back and re-raise the signal.
    stopOnTerminationSignals: false,
    plugins,
  });
  await apollo.start();

  app.use(
    "/graphql",
    requireJsonBody,
    express.json({ limit: config.MAX_BODY_SIZE, type: ["application/json", "application/graphql-response+json"] }),
    apolloHandler(apollo, async ({ req }) => {
      const user = await authenticate(deps, req.headers.authorization).catch((err: unknown) => {
        if (err instanceof AppError) {
          throw new AppError(err.code, err.message, { http: { status: 401 } });
        }
        throw err;
      });
      return buildContext(deps, user, "http");
    }),
  );
  options.mount?.(app);
  app.use((_req, res) => sendErrors(res, 404, "Not found", "NOT_FOUND"));
  app.use(bodyErrorHandler(log));

  let closing: Promise<void> | null = null;
  return {
    server,
    ws,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        // A deep accept queue: a reconnect storm (10,000 clients within 2 s) arrives faster than
        // a busy loop accepts; with Node's default of 511 the kernel drops SYNs and clients
        // wait out TCP's retry backoff (1, 3, 7, 15 s...). The kernel caps it at somaxconn.
        server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      // Apollo's stop runs the drain plugins: stop accepting, close sockets with 1001, wait for
      // in-flight requests up to the grace period, then force-close what is left.
      closing ??= apollo.stop().finally(() => (repeats.flush(), ws.close()));
      return closing;
    },
  };
}
