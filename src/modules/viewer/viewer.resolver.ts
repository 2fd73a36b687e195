import { Ctx, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../../graphql/context.js";
import { AppError } from "../../shared/errors.js";
import { Role, Viewer } from "./viewer.type.js";

@Resolver(() => Viewer)
export class ViewerResolver {
  @Query(() => Viewer, { description: "The caller, as the token identifies them." })
  me(@Ctx() ctx: GraphQLContext): Viewer {
    // The answer of @Authorized() (graphql/auth-checker.ts), checked here: type-graphql's auth
    // middleware makes a field async, a chain of promises per request that cost `me` about 7% of
    // its CPU (bench/me.bench.ts). As the scan subscriptions' requireUser does.
    if (!ctx.user) throw new AppError("UNAUTHENTICATED", "Authentication required");
    // The viewer is who the verified token says: no query (bench/me.bench.ts). The user's row is
    // written lazily (first mutation, activity flush), so its absence means nothing here.
    return { id: ctx.user.id, role: ctx.user.role === "ADMIN" ? Role.ADMIN : Role.USER };
  }
}
