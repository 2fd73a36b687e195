import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics for one process (prom-client). Modules register their own gauges on
 * `registry`; this file holds the transport-level ones every instance exposes on /metrics.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;
  readonly graphqlOperations: Counter<"type" | "name" | "outcome" | "transport">;
  readonly graphqlDuration: Histogram<"type" | "name" | "transport">;
  readonly wsConnections: Gauge;
  readonly wsSubscriptions: Gauge;
  readonly wsClosed: Counter<"code">;
  readonly wsSlowClientsClosed: Counter;
  /** Operation names are client-chosen: cap the distinct label values so a client cannot blow up cardinality. */
  operationLabel(name: string | null | undefined): string;
}

export function createMetrics(options: { instanceId: string; maxOperationNames?: number }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ instance: options.instanceId });
  collectDefaultMetrics({ register: registry, prefix: "dg_" });

  const seen = new Set<string>();
  const max = options.maxOperationNames ?? 200;

  return {
    registry,
    httpRequests: new Counter({
      name: "dg_http_requests_total",
      help: "HTTP requests by method, route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "dg_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    graphqlOperations: new Counter({
      name: "dg_graphql_operations_total",
      help: "GraphQL operations by type, name, outcome and transport",
      labelNames: ["type", "name", "outcome", "transport"],
      registers: [registry],
    }),
    graphqlDuration: new Histogram({
      name: "dg_graphql_operation_duration_seconds",
      help: "GraphQL operation duration (queries and mutations; subscriptions count set-up only)",
      labelNames: ["type", "name", "transport"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    wsConnections: new Gauge({ name: "dg_ws_connections", help: "Open WebSocket connections", registers: [registry] }),
    wsSubscriptions: new Gauge({ name: "dg_ws_subscriptions", help: "Active GraphQL subscriptions", registers: [registry] }),
    wsClosed: new Counter({
      name: "dg_ws_closed_total",
      help: "WebSocket connections closed, by close code",
      labelNames: ["code"],
      registers: [registry],
    }),
    wsSlowClientsClosed: new Counter({
      name: "dg_ws_slow_clients_closed_total",
      help: "WebSocket connections closed because they stopped reading (1013)",
      registers: [registry],
    }),
    operationLabel(name) {
      if (!name) return "anonymous";
      const clean = name.slice(0, 64);
      if (seen.has(clean)) return clean;
      if (seen.size >= max) return "other";
      seen.add(clean);
      return clean;
    },
  };
}
