import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountProbes } from "../../../src/http/probes.js";
import { createMetrics } from "../../../src/platform/observability/metrics.js";

/** HTTP metrics by route: a request answered inside a mount is counted under the mount's path. */

describe("mountProbes HTTP metrics", () => {
  const metrics = createMetrics({ instanceId: "probes-test" });
  const app = express();
  mountProbes(app, { metrics, readiness: [], closing: () => false, metricsGate: (_req, _res, next) => next() });
  // Answers without next(), as the /graphql handler does (req.url is "/" inside the mount).
  app.use("/graphql", (_req, res) => void res.status(200).end("{}"));
  app.use((_req, res) => void res.status(404).end());
  const server = createServer(app);
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("counts and times POST /graphql as route /graphql, probes by their path, anything else as other", async () => {
    for (let i = 0; i < 3; i++) await (await fetch(`${base}/graphql`, { method: "POST", body: "{}" })).text();
    await (await fetch(`${base}/graphql?query=x`)).text();
    await (await fetch(`${base}/healthz`)).text();
    await (await fetch(`${base}/nope/graphql`)).text();
    const text = await metrics.registry.metrics();
    // The value of the sample `name` whose labels include all of `labels` (any order).
    const line = (name: string, labels: string) =>
      text
        .split("\n")
        .find((l) => l.startsWith(`${name}{`) && labels.split(",").every((label) => l.includes(label)))
        ?.split(" ")
        .at(-1);
    expect(line("dg_http_requests_total", 'method="POST",route="/graphql",status="200"')).toBe("3");
    expect(line("dg_http_requests_total", 'method="GET",route="/graphql",status="200"')).toBe("1");
    expect(line("dg_http_requests_total", 'method="GET",route="/healthz",status="200"')).toBe("1");
    expect(line("dg_http_requests_total", 'method="GET",route="other",status="404"')).toBe("1");
    expect(text).not.toMatch(/route="\/"/);
    expect(line("dg_http_request_duration_seconds_count", 'method="POST",route="/graphql"')).toBe("3");
    expect(line("dg_http_request_duration_seconds_bucket", 'le="5",method="POST",route="/graphql"')).toBe("3");
  });
});
