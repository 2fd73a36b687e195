import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { Logger } from "../platform/observability/logger.js";
import type { ErrorCode } from "../shared/errors.js";
import { bodyTooLarge } from "../modules/scans/upload-messages.js";

/** Answers a transport-level failure as a GraphQL response body, never a stack trace. */
export function sendErrors(res: Response, status: number, message: string, code: ErrorCode = "BAD_USER_INPUT"): void {
  res.status(status).type("application/json").send(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

const JSON_TYPES = ["application/json", "application/graphql-response+json"];

/**
 * POST /graphql must carry JSON (GraphQL over HTTP); other content types get 415 here rather
 * than a confusing message further down. GET is left to Apollo (queries only, CSRF-checked).
 */
export const requireJsonBody: RequestHandler = (req, res, next) => {
  if (req.method === "POST") {
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (!JSON_TYPES.includes(type)) {
      sendErrors(res, 415, "Content-Type must be application/json");
      return;
    }
  }
  // Apollo's Express integration insists on the property existing, even for GET.
  if (!("body" in req)) (req as { body?: unknown }).body = undefined;
  next();
};

/** body-parser failures (malformed JSON, oversized body, bad charset) as `{ errors }`. */
export function bodyErrorHandler(log: Logger): ErrorRequestHandler {
  return (err: { type?: string; status?: number; limit?: number }, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    switch (err.type) {
      case "entity.parse.failed":
        sendErrors(res, 400, "Malformed JSON body");
        return;
      case "entity.too.large":
        // The person reads sizes in MB; the setting's name is for operators, in the log.
        log.info({ limit: "MAX_BODY_SIZE", value: err.limit }, "request body over the size limit");
        sendErrors(res, 413, bodyTooLarge(err.limit));
        return;
      case "charset.unsupported":
      case "encoding.unsupported":
        sendErrors(res, 415, "Unsupported body encoding; send UTF-8 JSON");
        return;
      case "request.aborted":
        return;
      default:
        log.error({ err }, "unhandled HTTP error");
        sendErrors(res, 500, "Internal server error", "INTERNAL_SERVER_ERROR");
    }
  };
}
