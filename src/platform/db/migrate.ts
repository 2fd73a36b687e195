import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
} from "@prisma/driver-adapter-utils";
import * as engineBindings from "@prisma/schema-engine-wasm/schema_engine_bg";
import type { MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm";
import pg from "pg";
import type { Logger } from "../observability/logger.js";
import { describeTarget } from "./pool.js";

/**
 * Advisory-lock key held while migrating. Deliberately NOT Prisma's own key (72707369): the
 * engine may take that one itself on its own connection, and would then wait for us forever.
 */
const MIGRATION_LOCK_KEY = 5_147_720_391;

/** Where the project's Prisma files are. */
export interface ProjectPaths {
  /** @default `<project root>/prisma/schema.prisma` */
  schemaPath?: string;
  /** @default `<project root>/prisma/migrations` */
  migrationsDir?: string;
}

/**
 * The project root: the nearest directory above this file that holds `package.json` and
 * `prisma/schema.prisma`. Works from `src/platform/db` (swc-node, vitest) and from
 * `dist/src/platform/db` (after tsc).
 */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "prisma", "schema.prisma"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no project root (package.json + prisma/schema.prisma) above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function defaultSchemaPath(): string {
  return path.join(projectRoot(), "prisma", "schema.prisma");
}

export function defaultMigrationsDir(): string {
  return path.join(projectRoot(), "prisma", "migrations");
}

/**
 * Applies the pending migrations of `prisma/migrations` with Prisma's WebAssembly schema engine
 * (no engine binary, no network) and records them in `_prisma_migrations` exactly as
 * `prisma migrate deploy` does: either tool can take over from the other.
 *
 * Two instances starting at once do not both apply: the work runs under a PostgreSQL advisory
 * lock held by a dedicated connection; the second waits, then finds nothing pending.
 */
export async function applyMigrations(
  connectionString: string,
  log: Logger,
  paths: ProjectPaths = {},
): Promise<{ applied: string[] }> {
  const schemaPath = paths.schemaPath ?? defaultSchemaPath();
  const migrationsDir = paths.migrationsDir ?? defaultMigrationsDir();
  const target = describeTarget(connectionString);
  const started = Date.now();

  const [schemaText, migrationsList] = await Promise.all([fs.readFile(schemaPath, "utf8"), readMigrationsList(migrationsDir)]);

  const lockClient = new pg.Client({ connectionString });
  lockClient.on("error", (error) => log.warn({ err: { message: error.message } }, "migration lock connection failed"));
  await lockClient.connect();
  const pool = new pg.Pool({ connectionString, max: 2, idleTimeoutMillis: 1_000 });
  pool.on("error", (error) => log.warn({ err: { message: error.message } }, "migration connection failed"));
  let engine: SchemaEngine | undefined;
  try {
    const waitStart = Date.now();
    await lockClient.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    const waited = Date.now() - waitStart;
    if (waited > 100) log.info({ target, waitedMs: waited }, "migrations: waited for another instance to finish");

    engine = await newEngine(schemaPath, schemaText, log, new PrismaPg(pool));
    const output = await engine
      .applyMigrations({ migrationsList, filters: { externalTables: [], externalEnums: [] } })
      .catch((error: unknown) => {
        throw engineError("applying migrations", error);
      });
    const applied = output.appliedMigrationNames;
    log.info(
      { target, applied, total: migrationsList.migrationDirectories.length, ms: Date.now() - started },
      applied.length > 0 ? `migrations: applied ${applied.length} (${applied.join(", ")})` : "migrations: database is up to date",
    );
    return { applied };
  } finally {
    engine?.free();
    await lockClient.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockClient.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

/**
 * SQL that takes a database from `fromSchema` (a schema.prisma text; null = empty database) to
 * `toSchema`, in Prisma's migration.sql format. Needs no database. Empty string when equal.
 */
export async function diffSchemas(fromSchema: string | null, toSchema: string, log?: Logger): Promise<string> {
  const schemaPath = "schema.prisma";
  const engine = await newEngine(schemaPath, toSchema, log, offlineAdapterFactory());
  try {
    const result = await engine
      .diff({
        from: fromSchema === null ? { tag: "empty" } : { tag: "schemaDatamodel", files: [{ path: schemaPath, content: fromSchema }] },
        to: { tag: "schemaDatamodel", files: [{ path: schemaPath, content: toSchema }] },
        script: true,
        exitCode: true,
        filters: { externalTables: [], externalEnums: [] },
      })
      .catch((error: unknown) => {
        throw engineError("diffing schemas", error);
      });
    // exitCode 0 = no difference (the script then only holds "-- This is an empty migration.").
    if (result.exitCode !== 2) return "";
    let sql = result.stdout ?? "";
    // From an empty database the engine adds `CREATE SCHEMA IF NOT EXISTS "public"`, which
    // `migrate dev` (diffing against a shadow database) does not. PostgreSQL checks the CREATE
    // privilege on the database before IF NOT EXISTS, so it would fail for an owner that may
    // not create schemas: leave it out.
    if (fromSchema === null) sql = sql.replace(/^-- CreateSchema\nCREATE SCHEMA IF NOT EXISTS "public";\n\n/m, "");
    return sql;
  } finally {
    engine.free();
  }
}

/** The migrations folder, read the way the Prisma CLI reads it (same sort, same lockfile). */
export async function readMigrationsList(migrationsDir: string): Promise<MigrationList> {
  const lockfilePath = "migration_lock.toml";
  const lockContent = await fs.readFile(path.join(migrationsDir, lockfilePath), "utf8").catch(() => null);
  const entries = await fs.readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const migrationDirectories = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map(async (entry) => ({
        path: entry.name,
        migrationFile: {
          path: "migration.sql",
          content: await fs
            .readFile(path.join(migrationsDir, entry.name, "migration.sql"), "utf8")
            .then((value) => ({ tag: "ok" as const, value }))
            .catch((error: Error) => ({ tag: "error" as const, value: error.message })),
        },
      })),
  );
  migrationDirectories.sort((a, b) => a.path.localeCompare(b.path));
  return {
    baseDir: migrationsDir,
    lockfile: { path: lockfilePath, content: lockContent },
    shadowDbInitScript: "",
    migrationDirectories,
  };
}

/**
 * A driver adapter for a diff between two datamodels, which needs no database. The engine still
 * connects at start-up and asks for the server version: answer that, refuse anything else.
 */
function offlineAdapterFactory(): SqlMigrationAwareDriverAdapterFactory {
  const refuse = (what: string) => (): Promise<never> =>
    Promise.reject(new Error(`offline schema diff: the engine unexpectedly tried to ${what}`));
  const adapter: SqlDriverAdapter = {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",
    getConnectionInfo: () => ({ schemaName: "public", supportsRelationJoins: true }),
    queryRaw: (query: SqlQuery): Promise<SqlResultSet> =>
      query.sql.includes("server_version_num")
        ? Promise.resolve({
            columnNames: ["exists", "version", "numeric_version"],
            columnTypes: [ColumnTypeEnum.Boolean, ColumnTypeEnum.Text, ColumnTypeEnum.Int32],
            rows: [[true, "PostgreSQL 18.0 (offline diff)", 180000]],
          })
        : refuse(`query the database (${query.sql.slice(0, 60)})`)(),
    executeRaw: refuse("write to the database"),
    executeScript: refuse("run a script"),
    startTransaction: refuse("start a transaction"),
    dispose: () => Promise.resolve(),
  };
  return {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",
    connect: () => Promise.resolve(adapter),
    connectToShadowDb: refuse("create a shadow database"),
  };
}

let wasmReady: Promise<void> | undefined;

/** The slice of the WebAssembly global we use (tsconfig's `lib` has no DOM types). */
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: Record<string, object>): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * Instantiates the engine's WebAssembly module once per process. The package's main entry
 * imports the `.wasm` file as an ES module, which Node does not support: instantiate it
 * ourselves with the JS glue (`schema_engine_bg.js`) as its import object.
 */
function loadWasm(): Promise<void> {
  return (wasmReady ??= (async () => {
    const require = createRequire(import.meta.url);
    const gluePath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const bytes = await fs.readFile(path.join(path.dirname(gluePath), "schema_engine_bg.wasm"));
    const { instance } = await wasmApi.instantiate(bytes, { "./schema_engine_bg.js": engineBindings });
    engineBindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })().catch((error: unknown) => {
    wasmReady = undefined;
    throw error;
  }));
}

async function newEngine(
  schemaPath: string,
  schemaText: string,
  log: Logger | undefined,
  adapter: SqlMigrationAwareDriverAdapterFactory,
): Promise<SchemaEngine> {
  await loadWasm();
  const onEngineLog = (line: string): void => log?.debug({ engine: line }, "schema engine");
  return engineBindings.SchemaEngine.new(
    { datamodels: [[schemaPath, schemaText]] },
    onEngineLog,
    bindMigrationAwareSqlAdapterFactory(adapter),
  ).catch((error: unknown) => {
    throw engineError("starting the schema engine", error);
  });
}

/** The engine rejects with plain objects or strings; make them Errors with the engine's message. */
function engineError(what: string, error: unknown): Error {
  if (error instanceof Error) return new Error(`schema engine failed ${what}: ${error.message}`, { cause: error });
  if (typeof error === "string") return new Error(`schema engine failed ${what}: ${error}`);
  const message = (error as { message?: unknown } | null)?.message;
  return new Error(`schema engine failed ${what}: ${typeof message === "string" ? message : JSON.stringify(error)}`, { cause: error });
}
