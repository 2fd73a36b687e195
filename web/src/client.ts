import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "urql";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { bearer, graphqlUrls } from "./token";

export type LinkState = "connecting" | "live" | "reconnecting";

export interface ApiClient {
  readonly client: Client;
  readonly ws: WsClient;
  dispose(): void;
}

/**
 * urql over HTTP for queries and mutations and graphql-ws for subscriptions, both with the
 * token. The socket retries forever with capped backoff; graphql-ws resubscribes the active
 * subscriptions on the new socket (the server sends each one's current state first), and
 * `onReconnect` tells the app to re-read what may have ended while the socket was down.
 */
export function createApiClient(token: string, hooks: { onReconnect: () => void; onLinkState: (s: LinkState) => void }): ApiClient {
  const urls = graphqlUrls();
  const authorization = bearer(token);
  let connectedBefore = false;
  const ws = createWsClient({
    url: urls.ws,
    lazy: true,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Retry whatever closed the socket (server restart, network), except refused credentials.
    shouldRetry: (event) => !(event && typeof event === "object" && "code" in event && (event as CloseEvent).code === 4403),
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 300 * 2 ** retries) + Math.random() * 300)),
    connectionParams: () => (authorization ? { authorization } : {}),
    on: {
      connected: () => {
        hooks.onLinkState("live");
        if (connectedBefore) hooks.onReconnect();
        connectedBefore = true;
      },
      closed: () => hooks.onLinkState(connectedBefore ? "reconnecting" : "connecting"),
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
  return { client, ws, dispose: () => void ws.dispose() };
}

/** The first error's message and code, in words a person can act on. */
export function describeError(error: { graphQLErrors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>; networkError?: Error; message: string } | undefined | null): string | null {
  if (!error) return null;
  const first = error.graphQLErrors?.[0];
  const code = first?.extensions?.code as string | undefined;
  switch (code) {
    case "UNAUTHENTICATED":
      return "Your token was not accepted (expired, or not for this server). Sign in again.";
    case "FORBIDDEN":
      return "This needs an admin token.";
    case "SCAN_LIMIT_REACHED":
      return `You already have the most scans running at once. Wait for one to finish or cancel one. (${first?.message})`;
    case "CAPACITY_EXCEEDED":
      return `The server is at capacity; try again shortly. (${first?.message})`;
    default:
      if (first) return first.message;
      if (error.networkError) return `Cannot reach the server: ${error.networkError.message}`;
      return error.message;
  }
}
