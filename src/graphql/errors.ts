import type { GraphQLFormattedError } from "graphql";
import { GraphQLError } from "graphql";
import { ArgumentValidationError } from "type-graphql";
import type { Logger } from "../platform/observability/logger.js";
import { AppError } from "../shared/errors.js";

function findOriginal(error: unknown): unknown {
  let current = error;
  for (let i = 0; i < 5 && current instanceof GraphQLError && current.originalError; i++) current = current.originalError;
  return current;
}

/**
 * Failures that mean "no database connection in time": pg-pool's wait for a free client,
 * Prisma's wait to start a transaction (P2028), a connect that timed out, PostgreSQL out of
 * connection slots (53300). Load, not a fault: answered CAPACITY_EXCEEDED (issue 11).
 */
const OVERLOAD_MESSAGES =
  /timeout exceeded when trying to connect|Unable to start a transaction in the given time|Connection terminated due to connection timeout|too many clients already|remaining connection slots are reserved/i;

export function isOverload(error: unknown): boolean {
  for (let e = error, i = 0; e instanceof Error && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (code === "P2028" || code === "53300") return true;
    if (OVERLOAD_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** graphql-js's "Did you mean …?" hints name schema fields: hidden in production (issue 12). */
export function stripSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, "");
}

export interface MaskOptions {
  /** Production: no "Did you mean" suggestions in any message. @default false */
  hideSuggestions?: boolean;
  /** Retry hint for overload answers, in seconds. @default 5 */
  retryAfterSeconds?: number;
  /** Collapses repeated log lines (one line per kind per window, with a count). */
  repeats?: RepeatedLog;
}

/**
 * The allow-list (STYLE.md): an AppError keeps its code and message; a request error keeps its
 * message under BAD_USER_INPUT; a database overload becomes CAPACITY_EXCEEDED with a retry hint;
 * anything else becomes INTERNAL_SERVER_ERROR, logged in full here. Never a stack or a cause.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown, log: Logger, options: MaskOptions = {}): GraphQLFormattedError {
  const original = findOriginal(error);
  const base = { locations: formatted.locations, path: formatted.path };
  const clean = (m: string) => (options.hideSuggestions ? stripSuggestions(m) : m);
  if (original instanceof AppError) {
    // `http` steers Apollo's status code; it is not for the client.
    const { http: _http, ...extensions } = original.extensions;
    return { ...base, message: clean(original.message), extensions: { ...extensions, code: original.code } };
  }
  if (original instanceof ArgumentValidationError) {
    const fields = original.extensions.validationErrors?.map((v) => ({
      field: v.property,
      constraints: v.constraints ? Object.values(v.constraints) : [],
    }));
    const first = fields?.[0];
    const message = first?.constraints[0] ? `Invalid input: ${first.constraints[0]}` : "Invalid input";
    return { ...base, message, extensions: { code: "BAD_USER_INPUT", fields } };
  }
  if (isOverload(original)) {
    const retryAfterSeconds = options.retryAfterSeconds ?? 5;
    const line = { err: (original as Error).message, path: formatted.path };
    if (options.repeats) options.repeats.note("overload", "database busy: request answered CAPACITY_EXCEEDED", line);
    else log.warn(line, "database busy: request answered CAPACITY_EXCEEDED");
    return {
      ...base,
      message: `The server is busy (no database connection free in time); retry in ${retryAfterSeconds} s`,
      extensions: { code: "CAPACITY_EXCEEDED", retryAfterSeconds, reason: "DATABASE_BUSY" },
    };
  }
  // A GraphQLError with no foreign cause and no path comes from parsing, validation, variable
  // coercion or the query limits: the request's fault. With a path it is an execution fault
  // inside graphql-js (a null in a non-null field): ours, so masked.
  const foreign = original instanceof Error && !(original instanceof GraphQLError);
  if (error instanceof GraphQLError && !foreign && !formatted.path) {
    const code = formatted.extensions?.code;
    const reason = typeof code === "string" && code !== "BAD_USER_INPUT" ? code : undefined;
    return { ...base, message: clean(formatted.message), extensions: { code: "BAD_USER_INPUT", ...(reason ? { reason } : {}) } };
  }
  const details = { err: original instanceof Error ? original : error, path: formatted.path };
  if (options.repeats) {
    const kind = original instanceof Error ? `${original.name}:${original.message.slice(0, 80)}` : "non-error";
    options.repeats.note(kind, "internal error (masked for the client)", details, "error");
  } else {
    log.error(details, "internal error (masked for the client)");
  }
  return { ...base, message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

/**
 * One log line per kind of error per window instead of one per occurrence (issue 11: 20,000
 * pool timeouts wrote 32,000 stack traces). The first occurrence is logged in full; later ones
 * in the same window are counted, and the count is logged when the kind recurs after the window
 * or when `flush` runs. Bounded: at most `maxKinds` kinds are tracked.
 */
export class RepeatedLog {
  private readonly kinds = new Map<string, { since: number; suppressed: number; message: string; level: "warn" | "error" }>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs = 60_000,
    private readonly maxKinds = 200,
  ) {}

  note(kind: string, message: string, details: Record<string, unknown>, level: "warn" | "error" = "warn"): void {
    const now = Date.now();
    const seen = this.kinds.get(kind);
    if (seen && now - seen.since < this.windowMs) {
      seen.suppressed++;
      return;
    }
    if (seen?.suppressed) this.log[level]({ repeated: seen.suppressed, windowMs: this.windowMs }, `${message} (repeated)`);
    if (!seen && this.kinds.size >= this.maxKinds) this.flush();
    this.kinds.set(kind, { since: now, suppressed: 0, message, level });
    this.log[level](details, message);
  }

  /** Logs the counts still pending (shutdown, or the kind table is full). */
  flush(): void {
    for (const { suppressed, message, level } of this.kinds.values()) {
      if (suppressed) this.log[level]({ repeated: suppressed, windowMs: this.windowMs }, `${message} (repeated)`);
    }
    this.kinds.clear();
  }
}
