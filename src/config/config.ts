import { z } from "zod";

/**
 * Every environment variable the server reads, parsed, validated and frozen.
 * Bad configuration stops start-up with one clear line naming the variable (API.md).
 */

const DURATION_RE = /^(\d+)\s*(ms|s|m|h|d)?$/i;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "500ms", "30s", "15m", "24h", "7d" or a bare number of seconds into milliseconds. */
export function parseDuration(value: string): number {
  const m = DURATION_RE.exec(value.trim());
  if (!m) throw new Error(`expected a duration such as 30s, 15m, 24h or 7d, got "${value}"`);
  return Number(m[1]) * UNIT_MS[(m[2] ?? "s").toLowerCase()]!;
}

/** Parses "1mb", "512kb", "100000" into bytes. */
export function parseBytes(value: string): number {
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(value.trim());
  if (!m) throw new Error(`expected a size such as 512kb or 1mb, got "${value}"`);
  const unit = (m[2] ?? "b").toLowerCase();
  return Number(m[1]) * ({ b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as Record<string, number>)[unit]!;
}

const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, "expected a whole number").transform(Number).pipe(z.number().int().min(min).max(max));
const duration = (minMs: number) =>
  z.string().transform((v, ctx) => {
    try {
      const ms = parseDuration(v);
      if (ms < minMs) ctx.addIssue({ code: "custom", message: `must be at least ${minMs} ms` });
      return ms;
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  });
const bytes = z.string().transform((v, ctx) => {
  try {
    return parseBytes(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});
const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["1", "0", "true", "false", "yes", "no", "on", "off"]))
  .transform((v) => ["1", "true", "yes", "on"].includes(v));
const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `expected a URL starting with ${protocols.join(" or ")}//`);
const nonEmpty = z.string().trim().min(1);
/** A fraction: "0.85" or "85%", between 0 and 1. */
const ratio = z
  .string()
  .trim()
  .regex(/^(\d+(\.\d+)?%|0(\.\d+)?|1(\.0+)?)$/, "expected a fraction such as 0.85 or 85%")
  .transform((v) => (v.endsWith("%") ? Number(v.slice(0, -1)) / 100 : Number(v)))
  .pipe(z.number().min(0).max(1));

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** @default 4000 */
  PORT: int(0, 65535).default(4000),
  /** @default "0.0.0.0" */
  HOST: nonEmpty.default("0.0.0.0"),
  /** @default ".data" */
  DATA_DIR: nonEmpty.default(".data"),
  /** unset: embedded PostgreSQL under DATA_DIR */
  DATABASE_URL: url(["postgres:", "postgresql:"]).optional(),
  /** @default 50 */
  DATABASE_POOL_SIZE: int(1, 10_000).default(50),
  /** @default 5s */
  DATABASE_CONNECT_TIMEOUT: duration(100).default(5_000),
  /** @default 30s */
  DATABASE_IDLE_TIMEOUT: duration(100).default(30_000),
  /** how long start-up waits for PostgreSQL/Redis before giving up. @default 60s */
  STARTUP_TIMEOUT: duration(1_000).default(60_000),
  /** unset: in-memory pub/sub and in-process scan queue */
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
  /** prefix for every Redis key and channel, so several deployments can share one Redis. @default "dg" */
  REDIS_PREFIX: z.string().trim().regex(/^[A-Za-z0-9_:-]{1,40}$/, "letters, digits, _ : - only").default("dg"),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_ISSUER: nonEmpty.optional(),
  JWT_AUDIENCE: nonEmpty.optional(),
  JWKS_URL: url(["https:", "http:"]).optional(),
  /** comma list of accepted JWT algorithms. @default HS256 (RS256,ES256,... with JWKS_URL) */
  JWT_ALGORITHMS: z.string().optional(),
  ENCRYPTION_KEY: z.string().optional(),
  /** @default 3 */
  MAX_SCANS_PER_USER: int(1, 1000).default(3),
  /** @default 8 */
  MAX_CONCURRENT_SCANS: int(1, 10_000).default(8),
  /** @default 200 */
  MAX_QUEUED_SCANS: int(0, 1_000_000).default(200),
  /** @default 24h */
  SESSION_TTL: duration(1_000).default(86_400_000),
  /** `npm run worker` only: serve /healthz, /readyz and /metrics on this port (0: a free one). @default unset (none) */
  WORKER_HTTP_PORT: int(0, 65535).optional(),
  /** /metrics wants `Authorization: Bearer <METRICS_TOKEN>` (issue 12). @default unset */
  METRICS_TOKEN: z.string().trim().min(16, "must be at least 16 characters").optional(),
  /** serve /metrics on this port only (0: a free one), not on PORT or WORKER_HTTP_PORT. @default unset */
  METRICS_PORT: int(0, 65535).optional(),
  /** bind address of METRICS_PORT. @default HOST */
  METRICS_HOST: nonEmpty.optional(),
  /** payment records one session may hold. @default 200 */
  MAX_PAYMENTS_PER_SESSION: int(1, 1_000_000).default(200),
  /** database connections one session may hold. @default 20 */
  MAX_CONNECTIONS_PER_SESSION: int(1, 100_000).default(20),
  /** @default 8 */
  SCAN_WORKERS: int(0, 256).default(8),
  /** comma list of hosts, IPs and CIDRs database scans may reach. @default unset: public addresses only (development: and loopback) */
  DATABASE_SCAN_ALLOWED_HOSTS: z.string().optional(),
  /** connect timeout for connection tests of scanned databases (in production every failure to reach one answers after it). @default 5s */
  DATABASE_SCAN_CONNECT_TIMEOUT: duration(100).default(5_000),
  /** connection tests and database scan starts per user, as "attempts/window". @default 10/1m */
  DATABASE_TEST_RATE_LIMIT: z
    .string()
    .trim()
    .transform((v, ctx) => {
      const m = /^(\d+)\s*\/\s*(\S+)$/.exec(v);
      try {
        if (!m || Number(m[1]) < 1) throw new Error(`expected attempts per window such as 10/1m, got "${v}"`);
        return { points: Number(m[1]), windowMs: Math.max(1_000, parseDuration(m[2]!)) };
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
        return z.NEVER;
      }
    })
    .default({ points: 10, windowMs: 60_000 }),
  /** live sessions one user may hold. @default 100 */
  MAX_SESSIONS_PER_USER: int(1, 100_000).default(100),
  /** documents or files in one scan. @default 1000 */
  MAX_DOCUMENTS_PER_SCAN: int(1, 100_000).default(1000),
  /** decoded bytes of one document or file. @default 10mb */
  MAX_DOCUMENT_BYTES: bytes.default(10 * 1024 * 1024),
  /** decoded bytes of all documents of one scan. @default 12mb */
  MAX_SCAN_BYTES: bytes.default(12 * 1024 * 1024),
  /** a RUNNING scan whose worker has not sent a heartbeat for this long is resumed or failed. @default 30s */
  SCAN_STALL_TIMEOUT: duration(1_000).default(30_000),
  /** how often workers heartbeat their running scans. @default 5s */
  SCAN_HEARTBEAT_INTERVAL: duration(100).default(5_000),
  /** runs of one scan before a lost worker fails it (WORKER_LOST). @default 2 */
  SCAN_MAX_ATTEMPTS: int(1, 10).default(2),
  /** least time between two progress writes of one scan. @default 250ms */
  SCAN_PROGRESS_INTERVAL: duration(0).default(250),
  /** statement timeout for queries on scanned databases. @default 30s */
  DATABASE_SCAN_STATEMENT_TIMEOUT: duration(100).default(30_000),
  /** worker threads for detection (0: in the scan's own thread). @default number of CPUs */
  DETECTION_THREADS: int(0, 256).optional(),
  /** regions (ISO 3166 alpha-2, comma list, in order) whose numbering plans phone numbers without +CC are read in. @default NL,BE,DE,GB,FR,US */
  DETECTION_PHONE_REGIONS: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z]{2}(?:\s*,\s*[A-Z]{2})*$/, "expected a comma list of two-letter country codes such as NL,BE,DE")
    .transform((v) => v.split(",").map((r) => r.trim()))
    .default(["NL", "BE", "DE", "GB", "FR", "US"]),
  /** distinct values (findings) one scan stores; past it the scan succeeds marked truncated. @default 100000 */
  MAX_FINDINGS_PER_SCAN: int(1, 10_000_000).default(100_000),
  /** time one input may take to extract, and each of its detection chunks; over it the input is skipped. @default 60s */
  SCAN_INPUT_TIMEOUT: duration(100).default(60_000),
  /** heap (old generation) of each scan worker thread; an input needing more is skipped. @default 256mb */
  SCAN_THREAD_MEMORY: bytes.default(256 * 1024 * 1024),
  /** largest HTTP request body (document scans carry their documents). @default 16mb */
  MAX_BODY_SIZE: bytes.default(1024 * 1024 * 16),
  /** @default 12 */
  MAX_QUERY_DEPTH: int(1, 100).default(12),
  /** @default 15 */
  MAX_QUERY_ALIASES: int(0, 1000).default(15),
  /** @default 2000 */
  MAX_QUERY_TOKENS: int(10, 1_000_000).default(2000),
  /** @default 5000 */
  MAX_QUERY_COST: int(1, 10_000_000).default(5000),
  /** @default 20 */
  MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1, 10_000).default(20),
  /** largest WebSocket message accepted. @default 64kb */
  MAX_WS_MESSAGE_SIZE: bytes.default(64 * 1024),
  /** WebSockets one user may hold open on one instance; more are closed with 4430. @default 20 */
  MAX_WS_CONNECTIONS_PER_USER: int(1, 100_000).default(20),
  /** WebSockets one instance holds; more are closed with 1013 (try again later). @default 20000 */
  MAX_WS_CONNECTIONS: int(1, 1_000_000).default(20_000),
  /** a request waiting this long for a database connection answers CAPACITY_EXCEEDED with this as its retry hint. @default 5s */
  OVERLOAD_RETRY_AFTER: duration(1_000).default(5_000),
  /** a WebSocket whose socket cannot drain for this long is closed with 1013 (the client resubscribes). @default 10s */
  WS_SLOW_CLIENT_TIMEOUT: duration(100).default(10_000),
  /** every socket is pinged once per period; one that has not answered the previous ping is dropped. @default 12s */
  WS_KEEPALIVE: duration(100).default(12_000),
  /** WebSocket handshakes waiting their turn (a reconnect storm is admitted at the pace the loop allows); more answer 503. @default 10000 */
  MAX_PENDING_WS_UPGRADES: int(1, 1_000_000).default(10_000),
  /** @default 10s */
  SHUTDOWN_GRACE: duration(0).default(10_000),
  /** introspection for every user (admins always may). @default true in development */
  INTROSPECTION: bool.optional(),
  // Capacity monitor (issue 6). Ratios accept 0.85 or 85%; thresholds equal to 0 force that level.
  /** how often every instance samples its capacity. @default 5s */
  CAPACITY_SAMPLE_INTERVAL: duration(200).default(5_000),
  /** how long capacity samples are kept before they are pruned. @default 7d */
  CAPACITY_RETENTION: duration(60_000).default(7 * 86_400_000),
  /** machine (or container) memory in use. @default 85% / 95% */
  CAPACITY_MEMORY_WARN: ratio.default(0.85),
  CAPACITY_MEMORY_CRIT: ratio.default(0.95),
  /** machine CPU busy. @default 75% / 90% */
  CAPACITY_CPU_WARN: ratio.default(0.75),
  CAPACITY_CPU_CRIT: ratio.default(0.9),
  /** database pool connections in use, of DATABASE_POOL_SIZE. @default 80% / 95% */
  CAPACITY_POOL_WARN: ratio.default(0.8),
  CAPACITY_POOL_CRIT: ratio.default(0.95),
  /** p95 of the time scans wait in the queue. @default 60s / 300s */
  CAPACITY_QUEUE_WAIT_WARN: duration(0).default(60_000),
  CAPACITY_QUEUE_WAIT_CRIT: duration(0).default(300_000),
  /** event-loop delay p99. @default 200ms / 1000ms */
  CAPACITY_LOOP_DELAY_WARN: duration(0).default(200),
  CAPACITY_LOOP_DELAY_CRIT: duration(0).default(1_000),
  /** operator override of the computed level (drills, emergencies). @default unset (computed) */
  CAPACITY_FORCE_LEVEL: z.string().trim().toUpperCase().pipe(z.enum(["OK", "WARNING", "CRITICAL"])).optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

type Parsed = z.infer<typeof schema>;

export interface Config extends Parsed {
  readonly isProduction: boolean;
  readonly introspectionForAll: boolean;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses configuration from an environment; throws one ConfigError line naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  // Empty strings count as unset: `FOO= npm start` must not mean "FOO is the empty string".
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== "") cleaned[key] = v;
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? "configuration");
    const shown = name in cleaned && !/SECRET|KEY|URL|TOKEN/.test(name) ? ` (got "${cleaned[name]}")` : "";
    throw new ConfigError(`Invalid ${name}${shown}: ${issue.message}`);
  }
  const c = result.data;
  if (c.JWKS_URL && c.JWT_SECRET) throw new ConfigError("Invalid JWT_SECRET: set either JWT_SECRET or JWKS_URL, not both");
  const isProduction = c.NODE_ENV === "production";
  return Object.freeze({ ...c, isProduction, introspectionForAll: c.INTROSPECTION ?? !isProduction });
}
