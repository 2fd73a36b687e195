import { randomUUID } from "node:crypto";
import type { Logger } from "../platform/observability/logger.js";
import { AuthError, parseBearer, type AuthUser, type TokenVerifier } from "../platform/auth/jwt.js";
import { AppError } from "../shared/errors.js";
import type { AppServices } from "./services.js";
import { createLoaders, type Loaders } from "./loaders.js";

/** What every resolver receives: the caller, per-request DataLoaders and the services. */
export interface GraphQLContext {
  readonly user: AuthUser | null;
  readonly requestId: string;
  readonly transport: "http" | "ws";
  readonly loaders: Loaders;
  readonly services: AppServices;
  readonly log: Logger;
}

/** A context with a user: what `@Authorized()` resolvers can rely on. */
export type AuthedContext = GraphQLContext & { readonly user: AuthUser };

export interface ContextDeps {
  readonly verifier: TokenVerifier;
  readonly services: AppServices;
  readonly log: Logger;
}

/**
 * Authenticates a request's bearer token. No token: an anonymous caller (only `__typename`
 * and, in development, introspection answer); a bad token: UNAUTHENTICATED, never anonymous.
 * Costs no database query.
 */
export async function authenticate(deps: ContextDeps, authorization: string | null | undefined): Promise<AuthUser | null> {
  if (authorization == null || authorization === "") return null;
  const token = parseBearer(authorization);
  if (!token) throw new AppError("UNAUTHENTICATED", "Authorization must be 'Bearer <token>'");
  try {
    const user = await deps.verifier.verify(token);
    // No write here (issue 11: a reconnect storm upserted every user): the user's row is written
    // before their first mutation (graphql/edge.ts) and by the batched activity flush.
    deps.services.activity.touchUser(user.id, user.role);
    return user;
  } catch (err) {
    if (err instanceof AuthError) throw new AppError("UNAUTHENTICATED", `Invalid token: ${err.message}`);
    throw err;
  }
}

export function buildContext(deps: ContextDeps, user: AuthUser | null, transport: "http" | "ws"): GraphQLContext {
  return new RequestContext(deps, user, transport);
}

/**
 * The request id and the DataLoaders are made on first use: most operations (`me`, a
 * subscription's start) read neither, and both were a per-request cost of `me`
 * (bench/me.bench.ts). A class, not an object literal with getters: Apollo copies the context
 * of every request with Object.assign onto its prototype, which keeps prototype getters lazy
 * (an own getter would be called by the copy).
 */
class RequestContext implements GraphQLContext {
  readonly services: AppServices;
  readonly log: Logger;
  private madeRequestId: string | undefined = undefined;
  private madeLoaders: Loaders | undefined = undefined;

  constructor(
    deps: ContextDeps,
    readonly user: AuthUser | null,
    readonly transport: "http" | "ws",
  ) {
    this.services = deps.services;
    this.log = deps.log;
  }

  get requestId(): string {
    return (this.madeRequestId ??= randomUUID());
  }

  get loaders(): Loaders {
    return (this.madeLoaders ??= createLoaders(this.services, this.user));
  }
}
