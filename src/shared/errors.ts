import { GraphQLError } from "graphql";

/** The error codes of the public contract (API.md). Nothing else reaches a client. */
export const ERROR_CODES = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "SCAN_LIMIT_REACHED",
  "CAPACITY_EXCEEDED",
  "INTERNAL_SERVER_ERROR",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The allow-listed error: only an AppError (or a GraphQL validation error raised by graphql-js
 * itself) is shown to a client; everything else is masked as INTERNAL_SERVER_ERROR.
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
    this.code = code;
    this.name = "AppError";
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);
export const badInput = (message: string, field?: string) =>
  new AppError("BAD_USER_INPUT", message, field ? { field } : {});

/** HTTP status for a code, used where the transport needs one. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case "UNAUTHENTICATED":
      return 401;
    case "FORBIDDEN":
      return 403;
    case "NOT_FOUND":
      return 404;
    case "BAD_USER_INPUT":
      return 400;
    case "SCAN_LIMIT_REACHED":
      return 429;
    case "CAPACITY_EXCEEDED":
      return 503;
    case "INTERNAL_SERVER_ERROR":
      return 500;
  }
}
