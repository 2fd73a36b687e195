import pg from "pg";
import type { Logger } from "../observability/logger.js";

/** Options for {@link createPool}. */
export interface PoolOptions {
  /** PostgreSQL URL. May carry a password: it is never logged. */
  connectionString: string;
  /** Most connections the pool opens (the design's pool is 50). */
  max: number;
  /**
   * How long `connect()` waits for a free connection or a new one before failing.
   * @default 10_000
   */
  connectionTimeoutMillis?: number;
  /**
   * How long an idle connection stays open.
   * @default 30_000
   */
  idleTimeoutMillis?: number;
  /** Server-side `statement_timeout` for every connection; unset = the server's default. */
  statementTimeoutMs?: number;
  log: Logger;
}

/** Point-in-time pool counters (the capacity monitor samples these). */
export interface PoolStats {
  /** Configured maximum number of connections. */
  size: number;
  /** Connections checked out by a query or transaction. */
  inUse: number;
  /** Open connections waiting for work. */
  idle: number;
  /** Callers queued for a connection. */
  waiting: number;
}

/**
 * Our own `pg.Pool` (Prisma's default is `max: 10` with no timeouts), so its size, timeouts
 * and statistics are ours. The `'error'` listener matters: pg emits `'error'` when an idle
 * connection is dropped by the server (restart, failover, idle kill), and an unhandled
 * `'error'` event would crash the process.
 */
export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 10_000,
    idleTimeoutMillis: opts.idleTimeoutMillis ?? 30_000,
    ...(opts.statementTimeoutMs !== undefined ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  const target = describeTarget(opts.connectionString);
  pool.on("error", (error: Error & { code?: string }) => {
    opts.log.warn({ err: { message: error.message, code: error.code }, target }, "idle PostgreSQL connection failed");
  });
  return pool;
}

/** Current counters of a pool created by {@link createPool}. */
export function poolStats(pool: pg.Pool): PoolStats {
  const size = pool.options.max ?? 10;
  return {
    size,
    inUse: Math.max(0, pool.totalCount - pool.idleCount),
    idle: pool.idleCount,
    waiting: pool.waitingCount,
  };
}

/** Options for {@link waitForDatabase}. */
export interface WaitForDatabaseOptions {
  log: Logger;
  /** Give up after this long (measured from the first attempt). */
  timeoutMs: number;
  /** What is being waited for, in log lines and the error. @default "PostgreSQL" */
  what?: string;
  /** First delay between attempts; doubles up to `maxDelayMs`. @default 250 */
  initialDelayMs?: number;
  /** @default 5_000 */
  maxDelayMs?: number;
}

/**
 * Start-up check: retries `select 1` with exponential backoff until the database answers or
 * `timeoutMs` has passed, logging one line per failed attempt; then throws an Error that names
 * the target (without its password) and the last failure.
 */
export async function waitForDatabase(pool: pg.Pool, options: WaitForDatabaseOptions): Promise<void> {
  const what = options.what ?? "PostgreSQL";
  const target = poolTarget(pool);
  const initialDelay = options.initialDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 5_000;
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let delay = initialDelay;
  for (let attempt = 1; ; attempt++) {
    let reason: string;
    try {
      const client = await connectBefore(pool, deadline);
      try {
        await client.query("select 1");
      } finally {
        client.release();
      }
      if (attempt > 1) options.log.info({ attempt, target }, `${what} at ${target} is up`);
      return;
    } catch (error) {
      reason = errorReason(error);
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new Error(
        `${what} at ${target} not reachable after ${attempt} attempt${attempt === 1 ? "" : "s"} ` +
          `in ${formatMs(Date.now() - started)}: ${reason}`,
      );
    }
    const wait = Math.min(delay, remaining);
    options.log.warn(
      { attempt, target, reason },
      `waiting for ${what} at ${target} (attempt ${attempt}, next in ${formatMs(wait)}): ${reason}`,
    );
    await new Promise((resolve) => setTimeout(resolve, wait));
    delay = Math.min(delay * 2, maxDelay);
  }
}

/** `pool.connect()` that also gives up at the deadline (the pool's own timeout may be longer). */
async function connectBefore(pool: pg.Pool, deadline: number): Promise<pg.PoolClient> {
  const remaining = Math.max(1, deadline - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const connecting = pool.connect();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("connection attempt timed out"), { code: "ETIMEDOUT" })), remaining);
  });
  try {
    return await Promise.race([connecting, timeout]);
  } catch (error) {
    // A connection that arrives after we gave up goes straight back to the pool.
    connecting.then((client) => client.release(), () => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function errorReason(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return errorReason(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    return code ? `${String(code)} ${error.message}` : error.message || error.name;
  }
  return String(error);
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${Math.round(ms)}ms`;
}

function poolTarget(pool: pg.Pool): string {
  const { connectionString, host, port } = pool.options;
  if (connectionString) return describeTarget(connectionString);
  return `${host ?? "localhost"}:${port ?? 5432}`;
}

/** `host:port/database` of a PostgreSQL URL: never the user's password. */
export function describeTarget(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    const db = url.pathname.replace(/^\//, "");
    return `${url.hostname || "localhost"}:${url.port || "5432"}${db ? `/${decodeURIComponent(db)}` : ""}`;
  } catch {
    return "(unparseable connection string)";
  }
}

/** The URL with its password replaced by `***`, for log lines that want the user too. */
export function redactConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    url.searchParams.forEach((_, key) => {
      if (/password|sslkey|secret/i.test(key)) url.searchParams.set(key, "***");
    });
    return url.toString();
  } catch {
    return "(unparseable connection string)";
  }
}
