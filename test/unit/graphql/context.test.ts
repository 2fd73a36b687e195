import { describe, expect, it } from "vitest";
import { buildContext, type ContextDeps } from "../../../src/graphql/context.js";
import type { AppServices } from "../../../src/graphql/services.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";

/** The context makes its request id and DataLoaders on first use (bench/me.bench.ts), one of each per request. */

const sessionsAsked: string[][] = [];
const services = {
  sessions: {
    findManyOwned: async (owner: string, ids: readonly string[]) => {
      sessionsAsked.push([owner, ...ids]);
      return ids.map((id) => ({ id, ownerId: owner }));
    },
  },
} as unknown as AppServices;
const deps: ContextDeps = { verifier: { verify: async () => ({ id: "x", role: "USER" }) }, services, log: silentLogger };
/** What Apollo Server does to every request's context (ApolloServer.js cloneObject). */
const apolloCopy = <T extends object>(object: T): T => Object.assign(Object.create(Object.getPrototypeOf(object) as object) as T, object);

describe("buildContext", () => {
  it("carries the caller, transport, services and log", () => {
    const ctx = buildContext(deps, { id: "alice", role: "USER" }, "http");
    expect(ctx.user).toEqual({ id: "alice", role: "USER" });
    expect(ctx.transport).toBe("http");
    expect(ctx.services).toBe(services);
    expect(ctx.log).toBe(silentLogger);
  });

  it("gives one request id per context, made on first read, and different ones to different contexts", () => {
    const a = buildContext(deps, null, "http");
    const b = buildContext(deps, null, "ws");
    expect(a.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.requestId).toBe(a.requestId);
    expect(b.requestId).not.toBe(a.requestId);
  });

  it("makes the loaders once per context; Apollo's copy of a context gets its own and leaves the original's unmade", async () => {
    const ctx = buildContext(deps, { id: "alice", role: "USER" }, "http");
    const copy = apolloCopy(ctx);
    expect(copy.loaders).toBe(copy.loaders);
    expect(copy.user).toEqual({ id: "alice", role: "USER" });
    expect(ctx.loaders).not.toBe(copy.loaders);
    sessionsAsked.length = 0;
    await Promise.all([copy.loaders.sessions.load("s1"), copy.loaders.sessions.load("s2")]);
    await copy.loaders.sessions.load("s1"); // cached within the request
    expect(sessionsAsked).toEqual([["alice", "s1", "s2"]]); // one batch, scoped to the viewer
  });

  it("scopes the loaders to the context's user: an anonymous context loads no session", async () => {
    const anonymous = buildContext(deps, null, "http");
    sessionsAsked.length = 0;
    expect(await anonymous.loaders.sessions.load("s1")).toBeNull();
    expect(sessionsAsked).toEqual([]);
  });
});
