import { isIP } from "node:net";
import { checkTargetAllowed, type HostPolicy } from "../net/host-policy.js";
import { safeMessage } from "./errors.js";
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
export async function vetHost(target: Pick<DatabaseTarget, "host" | "port" | "database">, policy: HostPolicy): Promise<string> {
  const verdict = await checkTargetAllowed(policy, target);
  if (!verdict.ok) throw new DatabaseScanError("HOST_NOT_ALLOWED", hostRefusal(target.host, verdict));
  // Prefer IPv4 when both families answer: database servers more often listen on v4 only.
  return verdict.addresses.find((a) => isIP(a) === 4) ?? verdict.addresses[0]!;
}

/** One sentence: why the host is refused and, when an operator could allow it, whom to ask. */
export function hostRefusal(host: string, verdict: { reason: string; listable: boolean }): string {
  const shown = host.length > 100 ? `${host.slice(0, 100)}…` : host;
  const what = verdict.reason.startsWith("resolves to") ? verdict.reason : `is ${verdict.reason}`;
  return (
    `Database scans may not connect to ${shown}: it ${what}.` +
    (verdict.listable ? " If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS." : "")
  );
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

/** Vets the host, connects, reads the server version, closes: ok, or a code and a reason. */
export async function testDatabaseConnection(
  target: DatabaseTarget,
  options: DatabaseConnectOptions,
): Promise<{ ok: true; serverVersion: string } | { ok: false; code: DatabaseScanErrorCode; message: string }> {
  try {
    const address = await vetHost(target, options.hostPolicy);
    const session = await openSession(target, address, connectSettings(options));
    try {
      return { ok: true, serverVersion: session.serverVersion };
    } finally {
      await session.close();
    }
  } catch (error) {
    if (error instanceof DatabaseScanError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: "SCAN_FAILED", message: safeMessage(error) };
  }
}
