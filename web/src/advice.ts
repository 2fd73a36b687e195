/**
 * What to do next when a database cannot be scanned or tested (issue 14, point 4): the API's
 * codes (ConnectionTestResult.code, ScanError.code) in a sentence that names the connection and
 * the step to take. Pure, so it is table-tested (test/unit/web/advice.test.ts).
 */
export interface ConnectionFacts {
  host: string;
  port: number;
  database: string;
  user: string;
}

export function connectionAdvice(code: string | null | undefined, message: string | null | undefined, conn?: ConnectionFacts | null): string {
  const where = conn ? `${conn.host}:${conn.port}` : "the database server";
  const db = conn ? `"${conn.database}"` : "the database";
  const user = conn ? `"${conn.user}"` : "this user";
  const timedOut = /timed out|timeout/i.test(message ?? "");
  switch (code) {
    case "AUTHENTICATION_FAILED":
      return `The database refused the password for ${user}: edit the connection and enter the right password.`;
    case "CONNECTION_FAILED":
      return timedOut
        ? `${where} did not answer in time: is the database running, and may this server reach it (firewall, VPN)?`
        : `Nothing listens on ${where}: is the database running, and are the host and port right?`;
    case "DATABASE_NOT_FOUND":
      return `There is no database ${db} on ${where}: edit the connection and check its name.`;
    case "PERMISSION_DENIED":
      return `${user} may not read ${db}: grant it SELECT on the tables to scan, or edit the connection to use another user.`;
    case "TABLE_NOT_FOUND":
      return `A table to scan does not exist in ${db}: check the table names.`;
    case "HOST_NOT_ALLOWED":
      return `This server is not allowed to connect to ${conn ? conn.host : "that host"}. Ask your administrator to allow it, or use another host.`;
    case "TIMEOUT":
      return `${db} took too long to answer (a locked or very large table?): try again later, or scan fewer tables.`;
    case "SECRET_UNAVAILABLE":
      return "The saved password can no longer be read by this server: edit the connection and enter the password again.";
    case "WORKER_LOST":
      return "The server stopped while scanning: start the scan again.";
    default:
      return message ? `${message.replace(/\s*\((?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+\)/g, "")}` : "The scan failed: try again, and edit the connection if it fails again.";
  }
}
