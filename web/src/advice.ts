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
  switch (code) {
    case "AUTHENTICATION_FAILED":
      return `The database refused the password for ${user}: edit the connection and enter the right password.`;
    case "CONNECTION_FAILED":
      // The server answers every failure before authentication with this one code and one
      // message (no port-scanning oracle, issue 12.2), so the advice covers every cause.
      return `Could not connect to ${where}: is the database running? Check the host, the port and the SSL setting, and that a firewall or VPN lets this server reach it.`;
    case "DATABASE_NOT_FOUND":
      return `There is no database ${db} on ${where}: edit the connection and check its name.`;
    case "PERMISSION_DENIED":
      return `${user} may not read ${db}: grant it SELECT on the tables to scan, or edit the connection to use another user.`;
    case "TABLE_NOT_FOUND":
      return `A table to scan does not exist in ${db}: check the table names.`;
    case "HOST_NOT_ALLOWED":
      return `This server is not allowed to connect to ${conn ? conn.host : "that host"}. Ask your administrator to allow it, or use another host.`;
    case "RATE_LIMITED": {
      const wait = /(\d+)\s*s\b/.exec(message ?? "")?.[1];
      return `Too many connection tests in a short time: try again ${wait ? `in ${wait} s` : "in a minute"}.`;
    }
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
