/**
 * What the benches that drive a real server process share: a fresh migrated database (on
 * DATABASE_URL's server, or an embedded PostgreSQL), a GraphQL client with the bench token,
 * the server's own event-loop lag, a /healthz + RSS watcher, and the dense-text generator.
 * Each bench prints its own figures; nothing here asserts.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../src/platform/db/embedded.js";
import { applyMigrations } from "../src/platform/db/migrate.js";
import type { Logger } from "../src/platform/observability/logger.js";
import type { ServerProcess } from "../test/support/server-process.js";
import { vmRssKb } from "./proc.js";

export interface BenchDatabase {
  /** URL of a new, migrated database named `dg_bench_<name>_<random>`. */
  url: string;
  /** Drops it (and stops the embedded server if one was started). */
  drop(): Promise<void>;
}

/** A fresh migrated database on DATABASE_URL's server, or on an embedded PostgreSQL when unset. */
export async function benchDatabase(name: string, log: Logger): Promise<BenchDatabase> {
  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded = async (): Promise<void> => undefined;
  if (!adminUrl) {
    const dir = await mkdtemp(path.join(os.tmpdir(), "dg-bench-pg-"));
    const embedded = await startEmbeddedPostgres({ dataDir: dir, log, ephemeral: true, database: "postgres" });
    adminUrl = embedded.connectionString;
    stopEmbedded = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const dbName = `dg_bench_${name}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  await applyMigrations(url.toString(), log);
  return {
    url: url.toString(),
    drop: async () => {
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
      await stopEmbedded();
    },
  };
}

/** POST /graphql with the token; throws on errors. A kept-alive socket the server closed while idle is retried once. */
export function graphqlClient(server: ServerProcess, token: string) {
  return async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const send = () =>
      fetch(server.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
    const res = await send().catch(() => send());
    const body = (await res.json()) as { data?: T; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!;
  };
}

/** The server's own event-loop lag max since the last scrape (prom-client resets it per scrape), in ms. */
export async function loopLagMaxMs(s: ServerProcess): Promise<number | null> {
  const text = await fetch(`${s.base}/metrics`).then((r) => (r.ok ? r.text() : ""), () => "");
  const m = /^dg_nodejs_eventloop_lag_max_seconds\S* ([0-9.e+-]+)$/m.exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

export interface WatchResult {
  healthzMaxMs: number;
  healthzSamples: number;
  rssGrowthMiB: number;
  /** The server's event-loop lag max over the watch, or null when /metrics is not readable. */
  loopMs: number | null;
}

/** /healthz round trips every `intervalMs` and the server's RSS every 50 ms, until the returned stop is called. */
export function watchServer(s: ServerProcess, intervalMs = 20): () => Promise<WatchResult> {
  let maxMs = 0;
  let samples = 0;
  const rss0 = vmRssKb(s.child.pid!);
  let rssMax = rss0;
  let stopped = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const reset = loopLagMaxMs(s);
  const running = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        http.get(`${s.base}/healthz`, { agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        }).on("error", () => resolve());
      });
      maxMs = Math.max(maxMs, performance.now() - t0);
      samples++;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  const rssTimer = setInterval(() => {
    try {
      rssMax = Math.max(rssMax, vmRssKb(s.child.pid!));
    } catch {
      // the server exited
    }
  }, 50);
  return async () => {
    stopped = true;
    clearInterval(rssTimer);
    await running;
    await reset;
    agent.destroy();
    return { healthzMaxMs: Math.round(maxMs), healthzSamples: samples, rssGrowthMiB: (rssMax - rss0) / 1024, loopMs: await loopLagMaxMs(s) };
  };
}

/** About `bytes` of text with a distinct e-mail address and Dutch mobile number on every line. */
export function denseText(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `klant ${i}: k${i}.de.vries@voorbeeld.nl tel 06-${String(10_000_000 + (i % 90_000_000)).slice(-8)}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join("");
}
