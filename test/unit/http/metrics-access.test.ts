import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricsGate, metricsPolicy, type MetricsAccessConfig } from "../../../src/http/metrics-access.js";

/** Issue 12, point 7: who may read /metrics, by configuration. */

const TOKEN = "0123456789abcdef-metrics";

describe("metricsPolicy", () => {
  it.each<[string, MetricsAccessConfig, "open" | "token" | "hidden", "open" | "token" | "hidden"]>([
    ["production, nothing set", { isProduction: true }, "hidden", "open"],
    ["development, nothing set", { isProduction: false }, "open", "open"],
    ["production, token", { isProduction: true, METRICS_TOKEN: TOKEN }, "token", "token"],
    ["development, token", { isProduction: false, METRICS_TOKEN: TOKEN }, "token", "token"],
    ["production, port", { isProduction: true, METRICS_PORT: 9464 }, "hidden", "open"],
    ["development, port", { isProduction: false, METRICS_PORT: 0 }, "hidden", "open"],
    ["production, port and token", { isProduction: true, METRICS_PORT: 9464, METRICS_TOKEN: TOKEN }, "hidden", "token"],
  ])("%s: public port %s, metrics port %s", (_name, config, publicPort, metricsPort) => {
    expect(metricsPolicy(config, "public")).toBe(publicPort);
    expect(metricsPolicy(config, "metrics-port")).toBe(metricsPort);
  });
});

describe("metricsGate", () => {
  let base = "";
  const server = createServer(
    express()
      .get("/hidden", metricsGate({ isProduction: true }), (_req, res) => void res.send("metrics"))
      .get("/open", metricsGate({ isProduction: false }), (_req, res) => void res.send("metrics"))
      .get("/token", metricsGate({ isProduction: true, METRICS_TOKEN: TOKEN }), (_req, res) => void res.send("metrics")),
  );
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each<[string, Record<string, string>, number]>([
    ["/hidden", {}, 404],
    ["/hidden", { authorization: `Bearer ${TOKEN}` }, 404],
    ["/open", {}, 200],
    ["/token", {}, 401],
    ["/token", { authorization: "Bearer wrong-token-of-some-length" }, 401],
    ["/token", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, 401],
    ["/token", { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` }, 401],
    ["/token", { authorization: `Bearer ${TOKEN}` }, 200],
    ["/token", { authorization: `bearer  ${TOKEN} ` }, 200],
  ])("GET %s with %j answers %i", async (path, headers, status) => {
    const res = await fetch(`${base}${path}`, { headers });
    expect(res.status).toBe(status);
    if (status === 401) expect(res.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
    if (status === 200) expect(await res.text()).toBe("metrics");
  });
});
