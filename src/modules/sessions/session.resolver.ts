import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { AuthedContext } from "../../graphql/context.js";
import { OpenSessionInput } from "./session.input.js";
import { Session, SessionManagerStats } from "./session.type.js";

@Resolver(() => Session)
export class SessionResolver {
  @Authorized()
  @Mutation(() => Session, { description: "Opens a new session for the caller." })
  openSession(
    @Ctx() ctx: AuthedContext,
    @Arg("input", () => OpenSessionInput, { nullable: true }) input?: OpenSessionInput | null,
  ): Promise<Session> {
    return ctx.services.sessions.open(ctx.user.id, input);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: "Deletes the session and all its data (running scans are cancelled first)." })
  closeSession(@Ctx() ctx: AuthedContext, @Arg("id", () => ID) id: string): Promise<boolean> {
    return ctx.services.sessions.close(ctx.user.id, id);
  }

  @Authorized()
  @Query(() => [Session], { description: "The caller's live sessions, newest first." })
  sessions(@Ctx() ctx: AuthedContext): Promise<Session[]> {
    return ctx.services.sessions.list(ctx.user.id);
  }

  @Authorized()
  @Query(() => Session, { nullable: true, description: "One of the caller's sessions; null for unknown and other users' ids alike." })
  session(@Ctx() ctx: AuthedContext, @Arg("id", () => ID) id: string): Promise<Session | null> {
    return ctx.services.sessions.get(ctx.user.id, id);
  }

  @Authorized("ADMIN")
  @Query(() => SessionManagerStats, { description: "Session-manager statistics (ADMIN only)." })
  sessionManagerStats(@Ctx() ctx: AuthedContext): Promise<SessionManagerStats> {
    return ctx.services.sessions.stats();
  }
}
