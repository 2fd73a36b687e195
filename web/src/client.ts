import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange } from "urql";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { bearer, graphqlUrls } from "./token";

/**
 * The live link as the header badge shows it. `signed-out`: the server refused the token
 * (expired, or not for this server); nothing retries until the person signs in again.
 */
export type LinkState = "connecting" | "live" | "reconnecting" | "signed-out";

export interface ApiClient {
  readonly client: Client;
  readonly ws: WsClient;
  dispose(): void;
}

/** The close code the server uses for a refused or expired token (graphql-ws Forbidden). */
const FORBIDDEN = 4403;

/**
 * urql over HTTP for queries and mutations and graphql-ws for subscriptions, both with the
 * token. The socket opens at once (not lazily), so the badge tells the truth even on a page
 * with no subscription yet; it retries forever with capped backoff, except when the server
 * refuses the token (4403, also sent when the token expires): then `onAuthLost`. Any
 * UNAUTHENTICATED answer over HTTP calls `onAuthLost` too. `onReconnect` tells the app to
 * re-read what may have ended while the socket was down.
 */
export function createApiClient(
  token: string,
  hooks: { onReconnect: () => void; onLinkState: (s: LinkState) => void; onAuthLost: () => void },
): ApiClient {
  const urls = graphqlUrls();
  const authorization = bearer(token);
  let connectedBefore = false;
  let authLost = false;
  let disposed = false;
  const loseAuth = () => {
    if (authLost) return;
    authLost = true;
    hooks.onLinkState("signed-out");
    hooks.onAuthLost();
  };
  const ws = createWsClient({
    url: urls.ws,
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Retry whatever closed the socket (server restart, network), except refused credentials.
    shouldRetry: (event) => !isForbidden(event),
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 300 * 2 ** retries) + Math.random() * 300)),
    connectionParams: () => (authorization ? { authorization } : {}),
    on: {
      connected: () => {
        hooks.onLinkState("live");
        if (connectedBefore) hooks.onReconnect();
        connectedBefore = true;
      },
      closed: (event) => {
        if (disposed) return; // closed by us (sign-out, expiry, user switch): the app says why
        if (isForbidden(event)) loseAuth();
        else if (!authLost) hooks.onLinkState(connectedBefore ? "reconnecting" : "connecting");
      },
    },
  });
  const client = new Client({
    url: urls.http,
    // Scans and capacity change under us; nothing is worth serving stale from a cache.
    requestPolicy: "network-only",
    // POST only: the server (Apollo, CSRF prevention on) refuses GET operations without a preflight header.
    preferGetMethod: false,
    fetchOptions: (): RequestInit => ({ headers: authorization ? { authorization } : {} }),
    exchanges: [
      cacheExchange,
      mapExchange({
        onError(error) {
          if (error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) loseAuth();
        },
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? "" };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return {
    client,
    ws,
    dispose: () => {
      disposed = true;
      void ws.dispose();
    },
  };
}

function isForbidden(event: unknown): boolean {
  return Boolean(event && typeof event === "object" && "code" in event && (event as CloseEvent).code === FORBIDDEN);
}

/** "10 MB", "1.5 MB", "512 KB": sizes as people read them (1 MB = 1024 × 1024 bytes, as the server counts). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) {
    const mb = Math.round((bytes / (1024 * 1024)) * 10) / 10;
    return `${mb >= 10 || Number.isInteger(mb) ? Math.round(mb) : mb.toFixed(1)} MB`;
  }
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

type ErrorLike = { graphQLErrors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>; networkError?: Error; message: string } | undefined | null;

/** The upload limits, when known, so refusals can name them in MB. */
export interface KnownLimits {
  maxDocumentBytes: number;
  maxScanBytes: number;
  maxDocumentsPerScan: number;
  maxRequestBytes: number;
}

/** The first error's message and code, in words a person can act on (never a setting's name). */
export function describeError(error: ErrorLike, limits?: KnownLimits | null, names?: readonly string[]): string | null {
  if (!error) return null;
  const first = error.graphQLErrors?.[0];
  const ext = first?.extensions ?? {};
  const code = ext.code as string | undefined;
  switch (code) {
    case "UNAUTHENTICATED":
      return "Your sign-in was not accepted (expired, or not for this server). Sign in again.";
    case "FORBIDDEN":
      return "This needs an admin token.";
    case "SCAN_LIMIT_REACHED":
      return `You already have ${typeof ext.limit === "number" ? `${ext.limit} scans` : "the most scans"} queued or running. Wait for one to finish, or cancel one.`;
    case "CAPACITY_EXCEEDED": {
      const retry = typeof ext.retryAfterSeconds === "number" ? ` Try again in ${Math.ceil(ext.retryAfterSeconds)} s.` : " Try again shortly.";
      return `The server is busy right now.${retry}`;
    }
    case "BAD_USER_INPUT":
      return describeInputError(first!.message, ext, limits, names) ?? plain(first!.message);
    default:
      if (first) return plain(first.message);
      if (error.networkError) return networkMessage(error.networkError, limits);
      return plain(error.message);
  }
}

/** Upload refusals in words: which file, how large, the limit in MB. */
function describeInputError(message: string, ext: Record<string, unknown>, limits?: KnownLimits | null, names?: readonly string[]): string | null {
  const field = typeof ext.field === "string" ? ext.field : "";
  const index = /\[(\d+)\]/.exec(field)?.[1];
  const file = index !== undefined && names?.[Number(index)] ? `"${names[Number(index)]}"` : "A file";
  switch (ext.limit) {
    case "MAX_DOCUMENT_BYTES":
      return `${file} is too large: each file may be at most ${limits ? formatBytes(limits.maxDocumentBytes) : "the server's limit"}.`;
    case "MAX_SCAN_BYTES":
      return `These files are too large together: one scan may hold at most ${limits ? formatBytes(limits.maxScanBytes) : "the server's limit"}. Scan fewer files at a time.`;
    case "MAX_DOCUMENTS_PER_SCAN":
      return `Too many files: one scan may hold at most ${limits ? limits.maxDocumentsPerScan : "the server's limit of"} files.`;
    default:
      return /[A-Z][A-Z0-9]+_[A-Z0-9_]+/.test(message) ? null : message;
  }
}

/** Drops "(SOME_SETTING)" mentions: operators read those in the log, people need the sentence. */
function plain(message: string): string {
  return message.replace(/\s*\((?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+\)/g, "").trim();
}

function networkMessage(error: Error, limits?: KnownLimits | null): string {
  const status = (error as Error & { status?: number }).status;
  if (status === 413 || /larger than/i.test(error.message)) {
    return `The upload is too large: one request may carry at most ${limits ? formatBytes(limits.maxRequestBytes) : "the server's limit"} (binary files grow by a third on the way). Scan fewer files at a time.`;
  }
  return "Cannot reach the server. Check your connection; the page retries on its own.";
}
