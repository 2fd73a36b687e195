import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Metrics } from "../platform/observability/metrics.js";
import type { RequestHandler } from "express";
import { withTimeout } from "../shared/async.js";

/** A dependency /readyz checks: resolves when it answers, rejects (or times out) when not. */
export type ReadinessCheck = { name: string; check: () => Promise<void> };

const KNOWN_ROUTES = new Set(["/graphql", "/healthz", "/readyz", "/metrics", "/", "/explorer"]);

/**
 * HTTP metrics middleware and the probes every process serves: `/healthz` (alive), `/readyz`
 * (503 with a fixed body while a dependency does not answer, or while shutting down) and
 * `/metrics` (Prometheus text).
 */
export function mountProbes(
  app: express.Express,
  // metricsGate: who may read /metrics on this port (metrics-access.ts, issue 12).
  options: { metrics: Metrics; readiness: ReadinessCheck[]; closing: () => boolean; metricsGate: RequestHandler },
): void {
  const { metrics } = options;
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    // The route is read now: once a mount (app.use("/graphql", ...)) has trimmed req.url and its
    // handler answered without calling next(), req.path at "finish" is "/" (every GraphQL request
    // was counted as route "/"), and parsing it again there cost each request.
    const path = req.path;
    const route = KNOWN_ROUTES.has(path) ? path : "other";
    const method = req.method;
    res.on("finish", () => {
      metrics.httpDuration.observe({ method, route }, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.httpRequests.inc({ method, route, status: String(res.statusCode) });
    });
    next();
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", async (_req, res) => {
    const results = await Promise.all(
      options.readiness.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), 2_000);
          return [name, "up"] as const;
        } catch {
          return [name, "down"] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, state]) => state === "up") && !options.closing();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", checks });
  });

  app.get("/metrics", options.metricsGate, async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

/**
 * The probes alone on their own port, for `npm run worker` processes (WORKER_HTTP_PORT), which
 * serve no GraphQL but should be watched and scraped like API instances.
 */
export async function startProbeServer(options: {
  port: number;
  host: string;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  metricsGate: RequestHandler;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const app = express();
  app.disable("x-powered-by");
  let closing = false;
  mountProbes(app, { metrics: options.metrics, readiness: options.readiness, closing: () => closing, metricsGate: options.metricsGate });
  app.use((_req, res) => void res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] }));
  const server = createServer(app);
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve((server.address() as AddressInfo).port));
  });
  let closed: Promise<void> | null = null;
  return {
    server,
    port,
    close() {
      closing = true;
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
