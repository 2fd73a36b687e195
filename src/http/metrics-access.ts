import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type RequestHandler } from "express";
import type { Metrics } from "../platform/observability/metrics.js";

/**
 * Who may read `/metrics` (issue 12, point 7). The figures (active users, capacity level, pool
 * use, alerts) are what the `capacity` query keeps for admins, so they are for operators only:
 *
 * - `METRICS_PORT` set: metrics are served on that port alone (bound to `METRICS_HOST`), and
 *   `/metrics` on the public port (and a worker's `WORKER_HTTP_PORT`) answers 404.
 * - `METRICS_TOKEN` set: `/metrics` wants `Authorization: Bearer <METRICS_TOKEN>`, on whichever
 *   port serves it; anything else answers 401.
 * - Neither, in production: 404 (not served). Neither, in development or test: open, as before.
 */
export interface MetricsAccessConfig {
  readonly isProduction: boolean;
  readonly METRICS_TOKEN?: string | undefined;
  readonly METRICS_PORT?: number | undefined;
}

export type MetricsPolicy = "open" | "token" | "hidden";

/** What `/metrics` does on a port: the public one (API, or a worker's probe port) or the metrics port. */
export function metricsPolicy(config: MetricsAccessConfig, where: "public" | "metrics-port"): MetricsPolicy {
  if (where === "public" && config.METRICS_PORT !== undefined) return "hidden";
  if (config.METRICS_TOKEN) return "token";
  if (where === "metrics-port") return "open";
  return config.isProduction ? "hidden" : "open";
}

/** The Express handler to put before the `/metrics` route. */
export function metricsGate(config: MetricsAccessConfig, where: "public" | "metrics-port" = "public"): RequestHandler {
  const policy = metricsPolicy(config, where);
  if (policy === "open") return (_req, _res, next) => next();
  if (policy === "hidden") {
    return (_req, res) => void res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] });
  }
  const expected = digest(config.METRICS_TOKEN!);
  return (req, res, next) => {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    // Compared as fixed-length digests, in constant time: no length or prefix leaks.
    if (match && timingSafeEqual(digest(match[1]!), expected)) return next();
    res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
    res.status(401).json({ errors: [{ message: "Metrics need Authorization: Bearer <METRICS_TOKEN>", extensions: { code: "UNAUTHENTICATED" } }] });
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * `/metrics` alone on `METRICS_PORT`, for API and worker processes alike: a port the load
 * balancer does not publish, for Prometheus on the private network.
 */
export async function startMetricsServer(options: {
  port: number;
  host: string;
  metrics: Metrics;
  config: MetricsAccessConfig;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const app = express();
  app.disable("x-powered-by");
  app.get("/metrics", metricsGate(options.config, "metrics-port"), async (_req, res) => {
    res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });
  app.use((_req, res) => void res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] }));
  const server = createServer(app);
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  let closed: Promise<void> | null = null;
  return {
    server,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
