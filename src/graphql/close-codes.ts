/**
 * Every WebSocket close code this server sends, by name (issue 15): used by the server and
 * asserted by name in tests. The 44xx codes follow graphql-ws's `CloseCode` (graphql-transport-ws
 * protocol); 1001/1009/1013 are RFC 6455's. What a client library does with each: graphql-ws's
 * client (6.x) retries 1001, 1013, 4403 (with fresh `connectionParams`) and 4430 with its
 * backoff, and gives up on 1009, 4400, 4401, 4406, 4409, 4429 and 4500.
 */
export const CloseCode = {
  /** The client closed normally. */
  Normal: 1000,
  /** Server shutting down (SIGTERM): reconnect to another instance. */
  GoingAway: 1001,
  /** A message larger than MAX_WS_MESSAGE_SIZE. */
  MessageTooBig: 1009,
  /** Try again later: the socket stopped reading (WS_SLOW_CLIENT_TIMEOUT) or the instance is full (MAX_WS_CONNECTIONS). */
  TryAgainLater: 1013,
  /** Malformed protocol message. */
  BadRequest: 4400,
  /** `subscribe` before `connection_ack`. */
  Unauthorized: 4401,
  /** No valid token at `connection_init`, or the token expired on an open socket: reconnect with a new token. */
  Forbidden: 4403,
  /** No `connection_init` in time. */
  ConnectionInitialisationTimeout: 4408,
  /** Two operations with one id. */
  SubscriberAlreadyExists: 4409,
  /** A second `connection_init`. */
  TooManyInitialisationRequests: 4429,
  /** This user already holds MAX_WS_CONNECTIONS_PER_USER sockets on this instance: close one first. */
  TooManyConnections: 4430,
  /** An unexpected server fault. */
  InternalServerError: 4500,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

/** The close reasons, short enough for the 123-byte limit of a close frame. */
export const CloseReason = {
  tokenExpired: "Token expired: reconnect with a new token",
  tooManyConnections: (limit: number) => `Too many connections for this user (at most ${limit}, MAX_WS_CONNECTIONS_PER_USER)`,
  instanceFull: (limit: number) => `Server at its connection limit (${limit}, MAX_WS_CONNECTIONS): retry later`,
  slowReader: "Too slow: reconnect and resubscribe",
  shuttingDown: "Server shutting down",
} as const;
