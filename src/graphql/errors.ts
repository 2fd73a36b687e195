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
 * The allow-list (STYLE.md): an AppError keeps its code and message; a request error keeps its
 * message under BAD_USER_INPUT; anything else becomes INTERNAL_SERVER_ERROR, logged in full here.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown, log: Logger): GraphQLFormattedError {
  const original = findOriginal(error);
  const base = { locations: formatted.locations, path: formatted.path };
  if (original instanceof AppError) {
    // `http` steers Apollo's status code; it is not for the client.
    const { http: _http, ...extensions } = original.extensions;
    return { ...base, message: original.message, extensions: { ...extensions, code: original.code } };
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
  // A GraphQLError with no foreign cause and no path comes from parsing, validation, variable
  // coercion or the query limits: the request's fault. With a path it is an execution fault
  // inside graphql-js (a null in a non-null field): ours, so masked.
  const foreign = original instanceof Error && !(original instanceof GraphQLError);
  if (error instanceof GraphQLError && !foreign && !formatted.path) {
    const code = formatted.extensions?.code;
    const reason = typeof code === "string" && code !== "BAD_USER_INPUT" ? code : undefined;
    return { ...base, message: formatted.message, extensions: { code: "BAD_USER_INPUT", ...(reason ? { reason } : {}) } };
  }
  log.error({ err: original instanceof Error ? original : error, path: formatted.path }, "internal error (masked for the client)");
  return { ...base, message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } };
}
