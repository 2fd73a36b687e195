import { isIP } from "node:net";
import { checkTargetAllowed, hostRefusal, type HostPolicy } from "../net/host-policy.js";
import { setTimeout as sleep } from "node:timers/promises";
import { safeMessage, unreachable } from "./errors.js";
import { MysqlSession } from "./mysql.session.js";
import { PgSession } from "./pg.session.js";
import type { EngineSession } from "./session.js";
import { DatabaseScanError, connectSettings, type DatabaseConnectOptions, type DatabaseScanErrorCode, type DatabaseTarget, type SessionSettings } from "./target.js";

/**
 * Resolves the target's host, checks every address (and the server's own database) against
 * the policy, and returns the one to connect to: the session connects to this address, never
 * to the name again (no DNS rebinding window).
 * @throws DatabaseScanError HOST_NOT_ALLOWED with a sentence for the user (what to ask their operator).
 */
export async function vetHost(target: Pick<DatabaseTarget, "engine" | "host" | "port" | "database">, policy: HostPolicy): Promise<string> {
  const verdict = await checkTargetAllowed(policy, target);
  if (!verdict.ok && verdict.unresolved) throw unreachable(target, `${target.host}: ${verdict.reason}`);
  // `detail` (what a refused name resolved to) is for the server's log, never the user's answer.
  if (!verdict.ok) throw new DatabaseScanError("HOST_NOT_ALLOWED", hostRefusal(target.host, verdict), verdict.detail ?? verdict.reason);
  // Prefer IPv4 when both families answer: database servers more often listen on v4 only.
  return verdict.addresses.find((a) => isIP(a) === 4) ?? verdict.addresses[0]!;
}

/** Opens an engine session to an already vetted address. */
export async function openSession(target: DatabaseTarget, address: string, settings: SessionSettings): Promise<EngineSession> {
  switch (target.engine) {
    case "POSTGRESQL":
      return PgSession.open(target, address, settings);
    case "MYSQL":
      return MysqlSession.open(target, address, settings);
    default:
      throw new DatabaseScanError("SCAN_FAILED", `unsupported engine ${String((target as { engine: unknown }).engine)}`);
  }
}

/**
 * Vets the host and opens a session to the vetted address. Under a policy that equalizes
 * failures, a CONNECTION_FAILED answers no sooner than the connect timeout (plus a second
 * for the lookup) after the start: refused, unreachable and silent ports look alike in time
 * as they already do in code and message.
 */
export async function connectTarget(target: DatabaseTarget, policy: HostPolicy, settings: SessionSettings): Promise<EngineSession> {
  const started = performance.now();
  try {
    const address = await vetHost(target, policy);
    return await openSession(target, address, settings);
  } catch (error) {
    if (policy.equalizeFailures && error instanceof DatabaseScanError && error.code === "CONNECTION_FAILED") {
      const wait = started + settings.connectTimeoutMs + EQUALIZE_LOOKUP_ALLOWANCE_MS - performance.now();
      if (wait > 0) await sleep(wait);
    }
    throw error;
  }
}

/** Time allowed for the name lookup on top of the connect timeout when failures are equalized. */
const EQUALIZE_LOOKUP_ALLOWANCE_MS = 1_000;

export type ConnectionTestOutcome =
  | { ok: true; serverVersion: string }
  | { ok: false; code: DatabaseScanErrorCode; message: string; /** For the server's log only. */ detail?: string };

/** Vets the host, connects, reads the server version, closes: ok, or a code and a reason. */
export async function testDatabaseConnection(target: DatabaseTarget, options: DatabaseConnectOptions): Promise<ConnectionTestOutcome> {
  try {
    const session = await connectTarget(target, options.hostPolicy, connectSettings(options));
    try {
      return { ok: true, serverVersion: session.serverVersion };
    } finally {
      await session.close();
    }
  } catch (error) {
    if (error instanceof DatabaseScanError) {
      return { ok: false, code: error.code, message: error.message, ...(error.detail ? { detail: error.detail } : {}) };
    }
    return { ok: false, code: "SCAN_FAILED", message: "the connection test failed unexpectedly", detail: safeMessage(error) };
  }
}
