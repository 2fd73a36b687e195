import { webcrypto } from "node:crypto";
import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";

/**
 * Bearer-token verification (API.md, "Transport"): HS256 with a shared secret by default,
 * or asymmetric keys from an identity provider's JWKS when `JWKS_URL` is set.
 */

export type Role = "USER" | "ADMIN";

export interface AuthUser {
  id: string;
  role: Role;
  /**
   * When the token that identified this user expires (its `exp`), in ms since the epoch. Set by
   * the verifier on every answer, fresh or cached; absent on users built elsewhere (tests). A
   * transport that keeps a connection open after the check (WebSocket) closes it at this time.
   */
  expiresAt?: number;
}

export interface JwtSettings {
  /** Shared HMAC secret (`JWT_SECRET`). Required unless `jwksUrl` is set; ignored when it is. */
  secret?: string;
  /** Expected `iss` (`JWT_ISSUER`). Not checked when unset. */
  issuer?: string;
  /** Expected `aud` (`JWT_AUDIENCE`). Not checked when unset. */
  audience?: string;
  /** JWKS endpoint of an identity provider (`JWKS_URL`); switches to asymmetric algorithms only. */
  jwksUrl?: string;
  /**
   * Accepted `alg` values. Must be a subset of the mode's algorithms: HS256/HS384/HS512 with a
   * secret, {@link JWKS_ALGORITHMS} with a JWKS. `none` is never accepted.
   * @default ["HS256"] with a secret, all of {@link JWKS_ALGORITHMS} with a JWKS
   */
  algorithms?: string[];
  /** Allowed clock skew for `exp`/`nbf`/`iat`, in seconds. @default 5 */
  clockToleranceSec?: number;
}

/** Tuning knobs for the verifier; the defaults suit production. */
export interface VerifierOptions {
  /** Verified tokens remembered (LRU); 0 disables the cache. @default 10000 */
  cacheMaxEntries?: number;
  /** Longest time a verified token is served from the cache, in ms (never past its `exp`). @default 60000 */
  cacheTtlMs?: number;
  /**
   * Where a refused identity (a `sub` outside {@link isValidSubject}) is reported: one warning
   * per `rejectLogIntervalMs`, with the count refused since, never the subject itself.
   * @default no logging
   */
  log?: RejectionLogger;
  /** Least time between two warnings about refused subjects, in ms. @default 60000 */
  rejectLogIntervalMs?: number;
}

/** The part of a pino logger the verifier uses. */
export interface RejectionLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface TokenVerifier {
  /** Resolves the token's user, or throws {@link AuthError}. */
  verify(token: string): Promise<AuthUser>;
}

/**
 * Why authentication failed. `missing`: no token; `invalid`: bad signature, claims, algorithm
 * or format; `expired`: past `exp`; `unavailable`: the identity provider's JWKS could not be
 * fetched (a server-side problem, worth logging, still UNAUTHENTICATED for the client).
 */
export type AuthFailureReason = "missing" | "invalid" | "expired" | "unavailable";

export class AuthError extends Error {
  override name = "AuthError";
  constructor(
    public reason: AuthFailureReason,
    message: string = defaultMessages[reason],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const defaultMessages: Record<AuthFailureReason, string> = {
  missing: "authentication token missing",
  invalid: "authentication token invalid",
  expired: "authentication token expired",
  unavailable: "token verification keys unavailable",
};

export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
export const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"] as const;

const HMAC_HASH: Record<(typeof HMAC_ALGORITHMS)[number], string> = {
  HS256: "SHA-256",
  HS384: "SHA-384",
  HS512: "SHA-512",
};

/** Longest `sub` accepted: it becomes the owner id in every table. */
export const MAX_SUBJECT_LENGTH = 200;

/**
 * Characters a `sub` may not hold (issue 12): control characters (C0 with NUL, DEL, C1), format
 * characters (bidi overrides and isolates, zero-width joiners, BOM), lone surrogates, private-use
 * and unassigned code points, and the line/paragraph separators. What is left is printable text,
 * which is all an identity provider's subject (UUID, e-mail, `auth0|123`, URL) ever needs.
 */
const SUBJECT_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/** Why a `sub` claim is refused, or null when it is a valid user id. Never echoes the value. */
export function subjectProblem(sub: unknown): "missing" | "not-a-string" | "too-long" | "forbidden-character" | "surrounding-space" | null {
  if (sub === undefined || sub === null || sub === "") return "missing";
  if (typeof sub !== "string") return "not-a-string";
  if (sub.length > MAX_SUBJECT_LENGTH) return "too-long";
  if (SUBJECT_FORBIDDEN.test(sub)) return "forbidden-character";
  // "alice" and "alice " would be two users that look the same in every list.
  if (sub.trim() !== sub) return "surrounding-space";
  return null;
}

/** True when `sub` may be a user id: 1..{@link MAX_SUBJECT_LENGTH} UTF-16 units of printable text, no surrounding spaces. */
export function isValidSubject(sub: unknown): sub is string {
  return subjectProblem(sub) === null;
}
/** Tokens longer than this are refused before any parsing (a cheap guard against huge headers). */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** Tokens longer than this are verified but not cached, so the cache's memory stays bounded. */
const MAX_CACHED_TOKEN_LENGTH = 4 * 1024;

/** `Authorization` header value → token, per RFC 6750 §2.1 (`Bearer` is case-insensitive). */
export function parseBearer(header: string | undefined | null): string | null {
  if (typeof header !== "string") return null;
  const match = /^\s*bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

export function createTokenVerifier(settings: JwtSettings, options: VerifierOptions = {}): TokenVerifier {
  const clockTolerance = settings.clockToleranceSec ?? 5;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new Error("JWT clock tolerance must be a non-negative number of seconds");
  }
  const cacheMax = options.cacheMaxEntries ?? 10_000;
  const cacheTtlMs = options.cacheTtlMs ?? 60_000;

  let algorithms: string[];
  let key: JWTVerifyGetKey;
  if (settings.jwksUrl) {
    algorithms = pickAlgorithms(settings.algorithms, JWKS_ALGORITHMS, "JWKS_URL");
    key = createRemoteJWKSet(parseJwksUrl(settings.jwksUrl));
  } else {
    if (!settings.secret) throw new Error("JWT_SECRET is required when JWKS_URL is not set");
    algorithms = pickAlgorithms(settings.algorithms, HMAC_ALGORITHMS, "JWT_SECRET");
    // jose re-imports a Uint8Array secret on every call; import it once per algorithm instead.
    const secret = new TextEncoder().encode(settings.secret);
    const imported = new Map<string, Promise<webcrypto.CryptoKey>>();
    for (const alg of algorithms) {
      const hash = HMAC_HASH[alg as keyof typeof HMAC_HASH];
      const promise = webcrypto.subtle.importKey("raw", secret, { name: "HMAC", hash }, false, ["verify"]);
      promise.catch(() => undefined); // surfaced on first use, not as an unhandled rejection
      imported.set(alg, promise);
    }
    key = async (header) => {
      const cryptoKey = imported.get(header.alg ?? "");
      // Unreachable in practice: jose checks `algorithms` before resolving the key.
      if (!cryptoKey) throw new AuthError("invalid");
      return cryptoKey;
    };
  }

  const verifyOptions = {
    algorithms,
    requiredClaims: ["exp"],
    clockTolerance,
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  const cache = new TokenCache(cacheMax);
  const rejections = new RejectionLog(options.log, options.rejectLogIntervalMs ?? 60_000);

  return {
    async verify(token: string): Promise<AuthUser> {
      if (typeof token !== "string" || token.length === 0) throw new AuthError("missing");
      if (token.length > MAX_TOKEN_LENGTH) throw new AuthError("invalid", "authentication token too long");

      const now = Date.now();
      const hit = cache.get(token, now);
      if (hit) return hit;

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, verifyOptions));
      } catch (error) {
        throw toAuthError(error);
      }
      const problem = subjectProblem(payload.sub);
      if (problem) {
        rejections.note(problem, now);
        throw new AuthError("invalid", "authentication token has no valid subject");
      }
      // `exp` is required above, so it is a number here.
      const user = { ...userFromClaims(payload), expiresAt: (payload.exp as number) * 1000 };
      const cachedUntil = Math.min(user.expiresAt, now + cacheTtlMs);
      if (token.length <= MAX_CACHED_TOKEN_LENGTH && cachedUntil > now) cache.set(token, user, cachedUntil);
      return user;
    },
  };
}

/**
 * Signs an HS256 token this server accepts with the same secret (`npm run token`, tests).
 * `expiresIn`: a jose duration string ("12h", "30 min", "7d") or a number of seconds from now.
 * @default expiresIn "1h"
 */
export async function signToken(
  secret: string,
  claims: { sub: string; role?: "admin" | "user"; expiresIn?: string | number; issuer?: string; audience?: string },
): Promise<string> {
  if (!secret) throw new Error("signToken: secret is empty");
  if (!isValidSubject(claims.sub)) {
    throw new Error(`signToken: sub must be 1..${MAX_SUBJECT_LENGTH} printable characters without surrounding spaces`);
  }
  const expiresIn = claims.expiresIn ?? "1h";
  const nowSec = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims.role ? { role: claims.role } : {})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt(nowSec)
    // A number given to jose is an absolute timestamp; ours means "seconds from now".
    .setExpirationTime(typeof expiresIn === "number" ? nowSec + expiresIn : expiresIn);
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

function pickAlgorithms(requested: string[] | undefined, allowed: readonly string[], mode: string): string[] {
  // HS384/HS512 only on request: one secret, one algorithm, unless configured otherwise.
  if (!requested) return mode === "JWT_SECRET" ? ["HS256"] : [...allowed];
  if (requested.length === 0) throw new Error("JWT_ALGORITHMS: the list is empty");
  for (const alg of requested) {
    if (!allowed.includes(alg)) {
      throw new Error(`JWT_ALGORITHMS: "${alg}" is not allowed with ${mode} (allowed: ${allowed.join(", ")})`);
    }
  }
  return [...new Set(requested)];
}

function parseJwksUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error("JWKS_URL is not a valid URL");
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  // Keys fetched over plain HTTP could be swapped by anyone on the path.
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error("JWKS_URL must use https (plain http only for localhost)");
  }
  return url;
}

function userFromClaims(payload: JWTPayload): AuthUser {
  const sub = payload.sub;
  if (!isValidSubject(sub)) {
    throw new AuthError("invalid", "authentication token has no valid subject");
  }
  const role = payload["role"];
  if (role === undefined || role === "user") return { id: sub, role: "USER" };
  if (role === "admin") return { id: sub, role: "ADMIN" };
  throw new AuthError("invalid", "authentication token has an unknown role");
}

function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof joseErrors.JWTExpired) return new AuthError("expired", undefined, { cause: error });
  if (error instanceof joseErrors.JWKSTimeout || isJwksFetchFailure(error)) {
    return new AuthError("unavailable", undefined, { cause: error });
  }
  return new AuthError("invalid", undefined, { cause: error });
}

/** createRemoteJWKSet rejects with a JOSEError for a bad HTTP status, or a TypeError from fetch. */
function isJwksFetchFailure(error: unknown): boolean {
  if (error instanceof TypeError && /fetch/i.test(error.message)) return true;
  return (
    error instanceof joseErrors.JOSEError &&
    error.code === "ERR_JOSE_GENERIC" &&
    /JSON Web Key Set HTTP response/.test(error.message)
  );
}

interface CacheEntry {
  user: AuthUser;
  /** Served until then: min(the token's exp, verified + cacheTtlMs). */
  until: number;
}

/** A bounded LRU of verified tokens: a Map keeps insertion order, so the first key is the oldest. */
class TokenCache {
  private readonly entries = new Map<string, CacheEntry>();
  constructor(private readonly max: number) {}

  get(token: string, now: number): AuthUser | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    if (entry.until <= now) return undefined;
    this.entries.set(token, entry);
    // A copy, so a caller mutating its user cannot change the next request's.
    return { ...entry.user };
  }

  set(token: string, user: AuthUser, until: number): void {
    if (this.max <= 0) return;
    this.entries.delete(token);
    this.entries.set(token, { user: { ...user }, until });
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}

/**
 * Refused identities are logged once per interval, not once per request: a client retrying a
 * bad token (or an attacker sending many) costs one line a minute per reason, with the count.
 */
class RejectionLog {
  private readonly pending = new Map<string, { count: number; lastLoggedAt: number }>();
  constructor(
    private readonly log: RejectionLogger | undefined,
    private readonly intervalMs: number,
  ) {}

  note(reason: string, now: number): void {
    if (!this.log) return;
    let entry = this.pending.get(reason);
    if (!entry) {
      entry = { count: 0, lastLoggedAt: -Infinity };
      this.pending.set(reason, entry);
    }
    entry.count++;
    if (now - entry.lastLoggedAt < this.intervalMs) return;
    this.log.warn({ reason, refused: entry.count }, "token refused: its subject (sub) is not a valid user id");
    entry.count = 0;
    entry.lastLoggedAt = now;
  }
}
