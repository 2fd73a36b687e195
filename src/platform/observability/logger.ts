import { pino, type Logger } from "pino";

export type { Logger };

/**
 * Structured JSON logs (pino). Secrets and raw PII never reach a log line: known secret
 * fields are redacted here as a second line of defence; callers log ids, not values.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? "dataguardian",
    level: options.level ?? process.env.LOG_LEVEL ?? "info",
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        "password",
        "*.password",
        "*.*.password",
        "authorization",
        "*.authorization",
        "req.headers.authorization",
        "token",
        "*.token",
        "secret",
        "*.secret",
        "connectionString",
        "*.connectionString",
      ],
      censor: "[redacted]",
    },
  });
}

/** A logger that drops everything: for tests and scripts that print their own output. */
export const silentLogger: Logger = pino({ level: "silent" });
